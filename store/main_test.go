package store

import (
	"testing"

	"github.com/echorelay/echorelay/internal/testutil"
)

// TestMain fails the run if a test leaves goroutines behind (a store that was not closed keeps
// its committer and checkpointer running), then removes the fetch benchmarks' fixture.
func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m, removeFetchFixture) }
