package client

import "time"

// SetGroupPoll sets how often Watch reads the groups without being rung, until restore.
func SetGroupPoll(d time.Duration) (restore func()) {
	old := groupPoll
	groupPoll = d
	return func() { groupPoll = old }
}
