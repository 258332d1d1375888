package client

import "context"

// Recipient says what `send NAME` writes to: a friend (group false), else one of my groups
// (group true); a friend's name wins over a group's. A name that is neither gives the error
// of the friend lookup (ErrNoFriend).
func (c *Client) Recipient(name string) (group bool, err error) {
	_, err = c.Friend(name)
	if err == nil {
		return false, nil
	}
	if _, gerr := c.GroupMembers(name); gerr == nil {
		return true, nil
	}
	return false, err
}

// SendTo sends to the friend or group name (Recipient): the text content when fileName is
// "", else content as the file fileName. To a friend it is SendText or SendFile with o; to a
// group, where o does not apply, SendGroupText or SendGroupFile, and the result has To and
// Chunks only.
func (c *Client) SendTo(ctx context.Context, name, fileName string, content []byte, o SendOptions) (res *SendResult, group bool, err error) {
	if group, err = c.Recipient(name); err != nil {
		return nil, false, err
	}
	switch {
	case !group && fileName == "":
		res, err = c.SendText(ctx, name, string(content), o)
	case !group:
		res, err = c.SendFile(ctx, name, fileName, content, o)
	case fileName == "":
		res, err = &SendResult{To: name, Chunks: 1}, c.SendGroupText(ctx, name, string(content))
	default:
		res = &SendResult{To: name}
		res.Chunks, err = c.SendGroupFile(ctx, name, fileName, content)
	}
	if err != nil {
		return nil, group, err
	}
	return res, group, nil
}
