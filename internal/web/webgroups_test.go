package web

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The group part of TestBrowsersChatAcrossLinkedRelays (it reuses that test's two browsers,
// friends already, on their two linked relays, and its reload): Ana makes a group in her
// page, adds Bo from her friends, and makes a join code for Cy, a CLI user (the real echorelay
// command, its home relay Bo's) who is nobody's friend yet; Ana's page adds Cy when the code
// is answered. All three write to the group and Bo sends a photo; each sees the others'
// messages under their names. Ana removes Cy, and what she writes after that reaches Bo but
// not Cy, whose inbox says he is out. Screenshots of the group chat, its members and the list
// go to shots. After the test's reload, groupAfterReload checks the group, its history and its
// keys are still there, and Bo leaves.

const groupName = "Class 5b"

// groupChat runs the group part; ana is on relay a, bo on relay b, both on their safety
// number screens.
func groupChat(t *testing.T, ana, bo *browser, a, b *relay, shots string) {
	t.Helper()
	cy := &cli{t: t, bin: buildCLI(t), home: t.TempDir()}
	cy.run("id", "new", "--no-passphrase", "--kem", "mceliece348864f")

	// Ana makes the group, alone at first, and adds Bo from her friends.
	ana.click("back")
	ana.waitScreen(10*time.Second, "chat")
	ana.click("back")
	ana.waitScreen(10*time.Second, "list")
	ana.click("open-newgroup")
	ana.waitScreen(10*time.Second, "newgroup")
	ana.waitJS(30*time.Second, "Bo offered as a member", `document.querySelector('#newgroup-friends input[data-friend="Bo"]')`)
	ana.set("newgroup-name", groupName)
	ana.click("newgroup-go")
	ana.waitScreen(60*time.Second, "chat")
	if got := ana.text("title"); got != groupName {
		t.Fatalf("the group chat's title is %q", got)
	}
	ana.click("open-members")
	ana.waitScreen(10*time.Second, "group")
	ana.waitJS(30*time.Second, "Bo offered to add", `[...document.getElementById('group-add-friend').options].some(o => o.value === 'Bo')`)
	ana.click("group-add-go")
	ana.waitMember("Bo")
	ana.waitJS(30*time.Second, "no friend left to add", "!document.getElementById('group-add-none').hidden")

	// A join code for Cy; he answers it through his own relay, Bo's.
	ana.set("group-invite-name", "Cy")
	ana.click("group-invite-go")
	ana.waitJS(120*time.Second, "the join code", "!document.getElementById('group-invite-out').hidden")
	code := eval[string](ana, "document.getElementById('group-invite-code').value")
	if l := eval[string](ana, "document.getElementById('group-invite-link').href"); l != a.web+"/#invite="+code {
		t.Fatalf("the join link %q does not carry the code %q in its fragment", l, code)
	}
	ana.waitJS(30*time.Second, "the join code's QR code", "document.getElementById('group-invite-qr').naturalWidth > 0")
	if !regexp.MustCompile(`^[A-Z2-7]+$`).MatchString(code) {
		t.Fatalf("join code %q", code)
	}
	cy.run("friend", "accept", code, "--name", "Ana", "--relay", b.addr())
	ana.waitMember("Cy") // Ana's page read Cy's answer and added him
	ana.screenshot(shots, "web-group-members-phone", 390, 844)
	cy.inboxUntil("you are in the group " + groupName)

	// Bo finds the group in his list.
	bo.click("back")
	bo.waitScreen(10*time.Second, "chat")
	bo.click("back")
	bo.waitScreen(10*time.Second, "list")
	bo.waitJS(60*time.Second, "the group in Bo's list", `document.querySelector('#friends button[data-group]')`)
	bo.screenshot(shots, "web-group-list-phone", 390, 844)
	bo.openGroup(groupName)
	bo.click("open-members")
	bo.waitScreen(10*time.Second, "group")
	bo.waitMember("Cy") // Ana's commit that added Cy reached Bo
	if !eval[bool](bo, "document.getElementById('group-admin-tools').hidden && !document.getElementById('group-leave-go').hidden") {
		t.Fatal("Bo, a member, is offered the admin's tools, or not the way out")
	}
	bo.click("back")
	bo.waitScreen(10*time.Second, "chat")

	// Everybody writes; each sees who wrote what.
	ana.click("back")
	ana.waitScreen(10*time.Second, "chat")
	ana.send("welcome to class 5b")
	bo.waitGroupMessage("Ana", "welcome to class 5b")
	bo.send("hi all, Bo here")
	ana.waitGroupMessage("Bo", "hi all, Bo here")
	cy.run("send", groupName, "-m", "Cy says hi")
	ana.waitGroupMessage("Cy", "Cy says hi")
	bo.waitGroupMessage("Cy", "Cy says hi")
	cy.inboxUntil("Ana in " + groupName + ": welcome to class 5b")
	cy.inboxUntil("Bo in " + groupName + ": hi all, Bo here")

	// Bo sends a photo to the group: Ana's page shows it under his name, Cy's inbox saves it.
	bo.run(30*time.Second, chromedp.SetUploadFiles(chromedp.ID("attach"), []string{photo(t, "class-photo.png")}))
	bo.waitJS(60*time.Second, "the photo in the group",
		`[...document.querySelectorAll('#messages li.out')].some(li => li.dataset.kind === 'file' && li.dataset.state === 'relay')`)
	ana.waitJS(60*time.Second, "Bo's photo shown in the group",
		`[...document.querySelectorAll('#messages li.in')].some(li => li.dataset.from === 'Bo' && li.querySelector('img') && li.querySelector('img').alt === 'class-photo.png' && li.querySelector('img').naturalWidth === 96)`)
	cy.inboxUntil("Bo in " + groupName + ": file class-photo.png")
	ana.screenshot(shots, "web-group-phone", 390, 844)
	ana.screenshot(shots, "web-group-desktop", 1280, 800)

	// Ana removes Cy: her next message reaches Bo, not Cy.
	ana.click("open-members")
	ana.waitScreen(10*time.Second, "group")
	ana.waitMember("Cy")
	ana.run(10*time.Second, chromedp.Click(chromedp.CSS(`#group-members button[data-remove="Cy"]`), chromedp.NodeVisible))
	ana.waitJS(60*time.Second, "Cy gone from the members", `!document.querySelector('#group-members li[data-member="Cy"]')`)
	ana.click("back")
	ana.waitScreen(10*time.Second, "chat")
	ana.send("only for Ana and Bo now")
	bo.waitGroupMessage("Ana", "only for Ana and Bo now")
	out := cy.inboxUntil("you are no longer in the group "+groupName) + cy.run("inbox") + cy.run("history", groupName)
	if strings.Contains(out, "only for Ana and Bo") {
		t.Fatalf("Cy, removed, read what Ana wrote after:\n%s", out)
	}
	if !strings.Contains(out, "welcome to class 5b") {
		t.Fatalf("Cy's history of the group lost what he read while in it:\n%s", out)
	}
	t.Logf("figures (reported, not asserted): in Ana's page, making the group %.0f ms, adding Bo %.0f ms",
		eval[float64](ana, "window.echorelayTimings.groupNew"), eval[float64](ana, "window.echorelayTimings.groupAdd"))
	for _, br := range []*browser{ana, bo} {
		if v := eval[string](br, "JSON.stringify(window.echorelayGroupRefused)"); v != "[]" {
			t.Fatalf("%s's page refused group messages: %s", br.name, v)
		}
	}
}

// groupAfterReload: after Ana's reload the group, its history and its keys are still there.
func groupAfterReload(t *testing.T, ana, bo *browser) {
	t.Helper()
	ana.click("back")
	ana.waitScreen(10*time.Second, "list")
	ana.openGroup(groupName)
	ana.waitGroupMessage("Bo", "hi all, Bo here")
	ana.waitJS(30*time.Second, "the group's photo after the reload",
		`[...document.querySelectorAll('#messages li.in img')].some(img => img.alt === 'class-photo.png' && img.naturalWidth === 96)`)
	if eval[bool](ana, `!!document.querySelector('#messages li.in[data-from="Cy"]')`) != true {
		t.Fatal("Cy's message, sent before his removal, is gone after the reload")
	}
	ana.send("the group survived my reload")
	bo.click("back")
	bo.waitScreen(10*time.Second, "list")
	bo.openGroup(groupName)
	bo.waitGroupMessage("Ana", "the group survived my reload")
	bo.send("and it still reaches you")
	ana.waitGroupMessage("Bo", "and it still reaches you")

	// Bo leaves (the button asks twice); his page says he is out, Ana's commits it.
	bo.click("open-members")
	bo.waitScreen(10*time.Second, "group")
	bo.click("group-leave-go")
	if got := bo.text("group-leave-go"); !strings.HasPrefix(got, "Tap again") {
		t.Fatalf("the first tap on leave says %q", got)
	}
	bo.click("group-leave-go")
	bo.waitScreen(30*time.Second, "chat")
	bo.waitJS(30*time.Second, "Bo's page saying he left",
		"!document.getElementById('chat-gone').hidden && document.getElementById('compose').hidden")
	ana.click("open-members")
	ana.waitScreen(10*time.Second, "group")
	ana.waitJS(60*time.Second, "Bo gone from Ana's members", `!document.querySelector('#group-members li[data-member="Bo"]')`)
	ana.waitMember("you")
}

// openGroup opens the group called name from the conversation list.
func (b *browser) openGroup(name string) {
	b.t.Helper()
	sel := `[...document.querySelectorAll('#friends button[data-group]')].find(x => x.querySelector('b').textContent.endsWith(` + jsString(name) + `))`
	b.waitJS(60*time.Second, "the group "+name+" in the list", sel)
	eval[bool](b, "("+sel+").click(), true")
	b.waitScreen(30*time.Second, "chat")
	b.waitJS(10*time.Second, "the group's title", "document.getElementById('title').textContent === "+jsString(name))
}

// waitGroupMessage waits for a group message from a sender, shown under the sender's name.
func (b *browser) waitGroupMessage(from, text string) {
	b.t.Helper()
	b.waitJS(60*time.Second, from+"'s message "+text,
		`[...document.querySelectorAll('#messages li.in')].some(li => li.dataset.from === `+jsString(from)+
			` && li.firstChild.className === 'from' && li.firstChild.textContent === `+jsString(from)+
			` && li.childNodes[1].textContent === `+jsString(text)+`)`)
}

// waitMember waits until the members screen lists name.
func (b *browser) waitMember(name string) {
	b.t.Helper()
	b.waitJS(60*time.Second, name+" among the members", `document.querySelector('#group-members li[data-member=`+jsString(name)+`]')`)
}
