package datadir

import (
	"path/filepath"
	"testing"
)

func TestUserDataDir(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		euid int
		home string
		want string
	}{
		{"systemd", map[string]string{"STATE_DIRECTORY": "/var/lib/echorelay"}, 998, "/nonexistent", "/var/lib/echorelay"},
		{"systemd several", map[string]string{"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}, 0, "/root", "/var/lib/a"},
		{"systemd relative ignored", map[string]string{"STATE_DIRECTORY": "state"}, 0, "/root", "/var/lib/echorelay"},
		{"root", nil, 0, "/root", "/var/lib/echorelay"},
		{"root ignores xdg", map[string]string{"XDG_DATA_HOME": "/root/.data"}, 0, "/root", "/var/lib/echorelay"},
		{"user xdg", map[string]string{"XDG_DATA_HOME": "/home/pi/.data"}, 1000, "/home/pi", "/home/pi/.data/echorelay"},
		{"user relative xdg ignored", map[string]string{"XDG_DATA_HOME": "data"}, 1000, "/home/pi", "/home/pi/.local/share/echorelay"},
		{"user home", nil, 1000, "/home/pi", "/home/pi/.local/share/echorelay"},
		{"user no home", nil, 1000, "", "echorelay-data"},
		{"windows-like euid", nil, -1, "/home/x", "/home/x/.local/share/echorelay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			if got := userDataDir(getenv, tt.euid, tt.home); got != filepath.FromSlash(tt.want) {
				t.Errorf("userDataDir = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAndroidDataDir(t *testing.T) {
	home := "/data/data/com.termux/files/home"
	if got := androidDataDir(func(k string) string { return map[string]string{"HOME": home}[k] }); got != filepath.Join(home, ".echorelay") {
		t.Errorf("androidDataDir = %q", got)
	}
	if got := androidDataDir(func(string) string { return "" }); got != ".echorelay" {
		t.Errorf("androidDataDir without HOME = %q", got)
	}
}

func TestDefaultDataDir(t *testing.T) {
	if Default() == "" {
		t.Fatal("Default is empty")
	}
}
