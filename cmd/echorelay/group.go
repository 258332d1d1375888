package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/echorelay/echorelay/client"
	"github.com/echorelay/echorelay/internal/qr"
)

func init() {
	register(command{"group", "groups of up to 100 friends (`group new`, add, remove, list, members, leave); `send GROUP` writes to all", cmdGroup})
}

func cmdGroup(args []string) error {
	return subcommand("group", args, map[string]func([]string) error{
		"new": cmdGroupNew, "add": cmdGroupAdd, "invite": cmdGroupInvite, "remove": cmdGroupRemove, "leave": cmdGroupLeave,
		"list": cmdGroupList, "members": cmdGroupMembers})
}

func cmdGroupNew(args []string) error {
	var open *bool
	return homeCmd("group", "new", "NAME [FRIEND...] [--open]", "Make a group with you as its admin and the friends as its first members. Only you add\nand remove members, unless --open lets every member ask your client to.", 1, -1, args,
		func(ctx context.Context, cl *client.Client, pos []string) error {
			info, err := cl.NewGroup(ctx, pos[0], *open, pos[1:])
			if err == nil {
				fmt.Printf("made the group %s with %d members\n", printable(info.Name), info.Members)
			}
			return err
		}, func(fs *flag.FlagSet) {
			open = fs.Bool("open", false, "every member may add and remove (your client commits their requests)")
		})
}

func cmdGroupAdd(args []string) error {
	return homeCmd("group", "add", "GROUP FRIEND...", "Add friends to a group. They read from then on, not what was sent before.", 2, -1, args,
		func(ctx context.Context, cl *client.Client, pos []string) error {
			for _, f := range pos[1:] {
				if err := cl.AddToGroup(ctx, pos[0], f); err != nil {
					return err
				}
				fmt.Printf("added %s to %s\n", printable(f), printable(pos[0]))
			}
			return nil
		})
}

func cmdGroupInvite(args []string) error {
	var relay, name, as *string
	var noQR *bool
	return homeCmd("group", "invite", "GROUP --relay HOST:PORT --name NAME", "Make a single-use invite code (and QR code) for one new member: whoever accepts it with\n`echorelay friend accept CODE --name YOU` becomes your friend NAME and, at your next inbox,\na member of GROUP. Make one code per member; a leaked code lets one person in at most, and\nyou see who.", 1, -1, args,
		func(ctx context.Context, cl *client.Client, pos []string) error {
			if *relay == "" || *name == "" {
				return userErr("give --relay HOST:PORT (your relay) and --name NAME (what to call the new member)", "--relay and --name are required")
			}
			inv, err := cl.GroupInvite(ctx, pos[0], *relay, *name, *as)
			if err != nil {
				return err
			}
			if q, err := qr.Encode([]byte(inv.Code())); err == nil && !*noQR {
				fmt.Print(q.Text())
			}
			fmt.Printf("invite code: %s\n(single use; %s joins %s at your next `echorelay inbox` after accepting)\n", inv.Code(), printable(*name), printable(pos[0]))
			return nil
		}, func(fs *flag.FlagSet) {
			relay = fs.String("relay", "", "your relay, HOST:PORT (required)")
			name = fs.String("name", "", "what to call the new member (required)")
			as = fs.String("as", "", "the name you suggest to the new member for yourself")
			noQR = fs.Bool("no-qr", false, "print the code only, without the QR code")
		})
}

func cmdGroupRemove(args []string) error {
	return homeCmd("group", "remove", "GROUP MEMBER", "Remove a member (a friend's name, or the name `group members` shows). Every remaining\nmember starts new keys that the removed member never gets.", 2, -1, args,
		func(ctx context.Context, cl *client.Client, pos []string) error {
			err := cl.RemoveFromGroup(ctx, pos[0], pos[1])
			if err == nil {
				fmt.Printf("removed %s from %s\n", printable(pos[1]), printable(pos[0]))
			}
			return err
		})
}

func cmdGroupLeave(args []string) error {
	return homeCmd("group", "leave", "GROUP", "Leave a group: the admin is asked to remove you, and your keys of it are deleted now.", 1, -1, args,
		func(ctx context.Context, cl *client.Client, pos []string) error {
			err := cl.LeaveGroup(ctx, pos[0])
			if err == nil {
				fmt.Printf("left %s\n", printable(pos[0]))
			}
			return err
		})
}

func cmdGroupList(args []string) error {
	return homeCmd("group", "list", "", "List your groups: ID start, name, members, admin.", 0, -1, args,
		func(_ context.Context, cl *client.Client, _ []string) error {
			gs, err := cl.Groups()
			for _, g := range gs {
				admin, state := "admin "+printable(g.Admin), ""
				if g.IsAdmin {
					admin = "you are the admin"
				}
				if g.Open {
					state = "\topen"
				}
				if g.Gone {
					state = "\tyou are no longer in it"
				}
				fmt.Printf("%x\t%s\t%d members\t%s%s\n", g.ID[:4], printable(g.Name), g.Members, admin, state)
			}
			if err == nil && len(gs) == 0 {
				fmt.Println("no groups yet: `echorelay group new NAME FRIEND...`")
			}
			return err
		})
}

func cmdGroupMembers(args []string) error {
	return homeCmd("group", "members", "GROUP", "List a group's members: your name for each friend, else the name the admin gave.", 1, -1, args,
		func(_ context.Context, cl *client.Client, pos []string) error {
			ms, err := cl.GroupMembers(pos[0])
			for _, m := range ms {
				name, tags := m.Name, ""
				if !m.Friend {
					name, tags = m.Nick, "\tnot your friend"
				}
				if m.Me {
					name = "you"
				}
				if m.Admin {
					tags += "\tadmin"
				}
				fmt.Printf("%x\t%s%s\n", m.FP[:4], printable(name), tags)
			}
			return err
		})
}
