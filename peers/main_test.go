package peers

import (
	"testing"

	"github.com/echorelay/echorelay/internal/testutil"
)

// TestMain fails the package's run when a test leaves goroutines behind (a node, link,
// dialer, client or raw connection that was not stopped).
func TestMain(m *testing.M) {
	testutil.VerifyNoLeaks(m)
}
