package main

import (
	"testing"

	"github.com/echorelay/echorelay/internal/admin/admintest"
)

// The strict reader of /metrics for the process-level tests (ops_e2e_test.go); its own test is
// internal/admin's TestExpositionParserRejects.
type promFamily = admintest.Family

var parseExposition = admintest.ParseExposition

func metric(t *testing.T, fams map[string]*promFamily, name, labels string) float64 {
	t.Helper()
	return admintest.Metric(t, fams, name, labels)
}
