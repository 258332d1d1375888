package admin

import (
	"testing"

	"github.com/echorelay/echorelay/internal/testutil"
)

// TestMain fails the package's run when a test leaves goroutines behind (a server, a
// connection or a history sampler that was not stopped).
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
