package main

import (
	"testing"

	"github.com/echorelay/echorelay/internal/admin"
	"github.com/echorelay/echorelay/internal/admin/admintest"
)

// The status page's own tests are in internal/admin; these are what the process-level tests
// here share to read a relay's /status.

// historyView is the "history" block of /status.
type historyView = admin.History

// statusReport is /status as `echorelay status` decodes it; Extra are the counters it prints
// with --all.
type statusReport struct {
	admin.Status
	Extra []admin.Counter
}

func parseReport(b []byte) (statusReport, error) {
	s, err := parseStatus(b)
	return statusReport{s, s.Counters()}, err
}

// findIPs returns the IP addresses in s (admintest.FindIPs with the status page's own check).
func findIPs(s string) []string { return admintest.FindIPs(s, admin.LooksLikeIP) }

// parseHTML parses the status page strictly (admintest.ParsePage, as internal/admin's tests do).
func parseHTML(t *testing.T, page string) *admintest.Elem { return admintest.ParsePage(t, page) }
