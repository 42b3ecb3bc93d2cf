package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// steerColumn is the width, in characters, of each continuation column of
// the side-by-side table.
const steerColumn = 38

// printSteer prints the steering, the two continuations side by side, the
// logit shift at the first generated position, the AUSteer units and the
// evaluation.
func printSteer(w io.Writer, model, prompt string, res *steerResult) error {
	fmt.Fprintf(w, "model     %s\n", model)
	fmt.Fprintf(w, "steering  %s\n", describeSteering(res))
	if res.Steered != nil {
		fmt.Fprintf(w, "prompt    %q\n", prompt)
		fmt.Fprintln(w)
		printSideBySide(w, res.Unsteered.Text, res.Steered.Text)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "logits at the first generated position:")
		fmt.Fprintf(w, "  %-16s  %6s  %9s  %9s  %8s\n", "token", "id", "unsteered", "steered", "shift")
		for _, s := range res.LogitShift {
			fmt.Fprintf(w, "  %-16s  %6d  %9.4f  %9.4f  %+8.4f\n", showPiece(s.Token), s.ID, s.Unsteered, s.Steered, s.Shift)
		}
	}
	if len(res.Units) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "AUSteer units (a → a·(1 + α·β), α = %g):\n", *res.Vector.Alpha)
		fmt.Fprintf(w, "  %5s  %5s  %7s  %8s\n", "block", "dim", "β", "factor")
		for _, u := range res.Units {
			fmt.Fprintf(w, "  %5d  %5d  %+7.3f  %8.3f\n", u.Layer, u.Dim, u.Score, 1+*res.Vector.Alpha*u.Score)
		}
	}
	if e := res.Eval; e != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "multiple choice: %d items, accuracy %.3f unsteered (%d correct), %.3f steered (%d correct)\n",
			e.Items, e.Unsteered.Accuracy, e.Unsteered.Correct, e.Steered.Accuracy, e.Steered.Correct)
	}
	return nil
}

// describeSteering returns a one-line description of the steering, such
// as "mean-diff at blocks.L.hook_resid_post, strength 4; block 2 (norm 1.5)".
func describeSteering(res *steerResult) string {
	v := res.Vector
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s", v.Method, v.Point)
	if v.Strength != nil {
		fmt.Fprintf(&b, ", strength %g", *v.Strength)
	} else {
		fmt.Fprintf(&b, ", %d units, α %g", len(res.Units), *v.Alpha)
	}
	for i, l := range v.Layers {
		sep := "; "
		if i > 0 {
			sep = ", "
		}
		fmt.Fprintf(&b, "%sblock %d (norm %.3g)", sep, l, v.Norms[i])
	}
	return b.String()
}

// printSideBySide prints two texts in columns of steerColumn characters.
func printSideBySide(w io.Writer, left, right string) {
	l, r := wrapText(left, steerColumn), wrapText(right, steerColumn)
	row := func(a, b string) {
		pad := steerColumn - utf8.RuneCountInString(a)
		fmt.Fprintf(w, "%s%s │ %s\n", a, strings.Repeat(" ", max(pad, 0)), b)
	}
	row("unsteered", "steered")
	fmt.Fprintf(w, "%s─┼─%s\n", strings.Repeat("─", steerColumn), strings.Repeat("─", steerColumn))
	for i := range max(len(l), len(r)) {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		row(a, b)
	}
}

// wrapText breaks text into lines of at most width characters at spaces,
// keeping its line breaks and splitting words longer than a line.
func wrapText(text string, width int) []string {
	var lines []string
	for paragraph := range strings.SplitSeq(text, "\n") {
		line := ""
		for _, word := range strings.Fields(paragraph) {
			for utf8.RuneCountInString(word) > width {
				if line != "" {
					lines = append(lines, line)
					line = ""
				}
				runes := []rune(word)
				lines = append(lines, string(runes[:width]))
				word = string(runes[width:])
			}
			switch {
			case line == "":
				line = word
			case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
				line += " " + word
			default:
				lines = append(lines, line)
				line = word
			}
		}
		lines = append(lines, line)
	}
	return lines
}
