package main

import "testing"

func TestParseIDsRejectsEmptyEntries(t *testing.T) {
	for _, in := range []string{"1,,2", "1,2,", ",1", "1, ,2"} {
		if _, err := parseIDs("--ids", in); err == nil {
			t.Errorf("parseIDs(%q) succeeded, want an error", in)
		}
	}
	if got, err := parseIDs("--ids", " 1 , 2 3 "); err != nil || len(got) != 3 {
		t.Errorf("parseIDs with spaces = %v, %v; want 3 ids", got, err)
	}
}
