package main

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/interp-go/interp/interp"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// Layout of the human patching table.
const (
	markedCells   = 3  // cells marked with * per site: the largest |values|
	columnsPerRow = 14 // maximum columns per block of a wide table
	maxLabelWidth = 8  // token labels are cut to this many characters
	minCellWidth  = 5  // room for "-0.00"
)

// siteTitles describe each site family in the table.
var siteTitles = map[string]string{
	interp.SiteResidPre: "residual stream entering each block (blocks.L.hook_resid_pre), by layer and position",
	interp.SiteAttnOut:  "attention output (blocks.L.hook_attn_out), by layer and position",
	interp.SiteMLPOut:   "MLP output (blocks.L.hook_mlp_out), by layer and position",
	interp.SiteZ:        "attention heads (blocks.L.attn.hook_z, all positions), by layer and head",
	interp.SiteMLPPost:  "MLP neurons (blocks.L.mlp.hook_post, all positions), by layer and neuron",
	interp.SitePattern:  "attention pattern entries (blocks.L.attn.hook_pattern), by layer, head, query and key",
}

// listedSites are the families too wide for a table: their strongest
// entries are listed instead.
var listedSites = []string{interp.SiteMLPPost, interp.SitePattern}

// listedEntries is the number of entries listed per such family.
const listedEntries = 20

// siteMap is one method's values by site family, with what tables, CSV
// files and heat maps need to label them.
type siteMap struct {
	title string   // the method, such as "activation patching"
	model string   // the model's name
	sites []string // the families, in output order
	// values are by family, then layer, then position (or head for z), as
	// in interp.PatchResult.Sites.
	values map[string][][]float64
	// labels are the token texts of the position columns: the clean
	// prompt's, or for a dataset those of its longest task.
	labels []string
}

// positionLabels returns the token texts of the position columns: those of
// the longest task's clean prompt, since a dataset's positions are aligned
// at the last one.
func positionLabels(tok *tokenizer.Tokenizer, tasks []interp.Task) ([]string, error) {
	longest := slices.MaxFunc(tasks, func(x, y interp.Task) int { return len(x.Clean) - len(y.Clean) })
	return pieces(tok, longest.Clean)
}

// printPatchTables prints the patching result as one table per site.
func printPatchTables(w io.Writer, r *patchRun) error {
	res := r.result
	fmt.Fprintf(w, "Activation patching on %s\n", r.model)
	for _, line := range r.describe {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "values    clean %.4f, corrupted %.4f; each cell is (patched − corrupted) / (clean − corrupted):\n", res.CleanValue, res.CorruptValue)
	fmt.Fprintf(w, "          1 = the site restores the clean behaviour, 0 = no effect;\n")
	fmt.Fprintf(w, "          * = the %d largest |values| of a site, among those of at least a tenth of its largest\n", markedCells)
	printSiteTables(w, r.siteMap)
	return nil
}

// printSiteTables prints one table per site family of m, each after a
// blank line and a title.
func printSiteTables(w io.Writer, m siteMap) {
	for _, site := range m.sites {
		values := m.values[site]
		fmt.Fprintf(w, "\n%s: %s\n", site, siteTitles[site])
		if len(values) == 0 {
			fmt.Fprintln(w, "  (no values)")
			continue
		}
		if slices.Contains(listedSites, site) {
			fmt.Fprintf(w, "  the %d largest |values|:\n", listedEntries)
			for _, e := range interp.TopSitesOf(m.values, site, listedEntries) {
				fmt.Fprintf(w, "  %-40s %10.4f\n", siteName(e, m.labels), e.Value)
			}
			continue
		}
		index, labels := columnHeaders(site, len(values[0]), m.labels)
		printSiteTable(w, index, labels, values, strongest(values, markedCells))
	}
}

// columnHeaders returns the two header rows of a site's table: position
// numbers and token texts, or head names for z.
func columnHeaders(site string, width int, tokens []string) (index, labels []string) {
	index = make([]string, width)
	labels = make([]string, width)
	for i := range width {
		if site == interp.SiteZ {
			labels[i] = "H" + strconv.Itoa(i)
			continue
		}
		index[i] = strconv.Itoa(i)
		if i < len(tokens) {
			labels[i] = cutLabel(showPiece(tokens[i]))
		}
	}
	return index, labels
}

// cutLabel shortens s to maxLabelWidth characters, ending a cut label with "…".
func cutLabel(s string) string {
	if utf8.RuneCountInString(s) <= maxLabelWidth {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelWidth-1]) + "…"
}

// printSiteTable prints values [layer][column] in blocks of at most
// columnsPerRow columns of similar width, with a * after each marked cell.
func printSiteTable(w io.Writer, index, labels []string, values [][]float64, marked map[[2]int]bool) {
	width := len(values[0])
	cell := make([]int, width)
	for i := range width {
		cell[i] = max(minCellWidth, utf8.RuneCountInString(labels[i]), utf8.RuneCountInString(index[i]))
	}
	rowLabel := len("L" + strconv.Itoa(len(values)-1))
	blocks := (width + columnsPerRow - 1) / columnsPerRow
	perBlock := (width + blocks - 1) / blocks

	for from := 0; from < width; from += perBlock {
		to := min(from+perBlock, width)
		if from > 0 {
			fmt.Fprintln(w)
		}
		var b strings.Builder
		header := func(cells []string) {
			b.Reset()
			b.WriteString(strings.Repeat(" ", rowLabel+2))
			for i := from; i < to; i++ {
				b.WriteString(padLeft(cells[i], cell[i]))
				b.WriteString("  ")
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
		if slices.ContainsFunc(index, func(s string) bool { return s != "" }) {
			header(index)
		}
		header(labels)
		for l, row := range values {
			b.Reset()
			b.WriteString(padLeft("L"+strconv.Itoa(l), rowLabel))
			b.WriteString("  ")
			for i := from; i < to; i++ {
				b.WriteString(padLeft(formatValue(row[i]), cell[i]))
				if marked[[2]int{l, i}] {
					b.WriteString("* ")
				} else {
					b.WriteString("  ")
				}
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
}

// formatValue formats a cell to 2 decimals, printing values that round to
// zero as "0.00" rather than "-0.00".
func formatValue(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if s == "-0.00" {
		return "0.00"
	}
	return s
}

func padLeft(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

// strongest returns the cells [layer, column] of the n largest |values|,
// leaving out those below a tenth of the largest so that a map with one
// strong cell does not also mark noise.
func strongest(values [][]float64, n int) map[[2]int]bool {
	var cells [][2]int
	for l, row := range values {
		for i, v := range row {
			if !math.IsNaN(v) {
				cells = append(cells, [2]int{l, i})
			}
		}
	}
	abs := func(c [2]int) float64 { return math.Abs(values[c[0]][c[1]]) }
	slices.SortStableFunc(cells, func(a, b [2]int) int { return cmp.Compare(abs(b), abs(a)) })
	marked := map[[2]int]bool{}
	for _, c := range cells[:min(n, len(cells))] {
		if abs(c) > 0 && abs(c) >= abs(cells[0])/10 {
			marked[c] = true
		}
	}
	return marked
}

// csvColumn is a value column of a site CSV file beyond the first.
type csvColumn struct {
	name   string
	values map[string][][]float64 // laid out as siteMap.values
}

// cell returns the column's value at a site as CSV text, or "" where the
// column has no value.
func (c csvColumn) cell(site string, layer, index int) string {
	rows := c.values[site]
	if layer >= len(rows) || index >= len(rows[layer]) {
		return ""
	}
	return formatCSVValue(rows[layer][index])
}

// writeSiteCSV writes every value of m as a CSV row: site, layer, index
// (position, or head for z), token (the position's token text, empty for
// z) and value, followed by the same site's value in each extra column.
func writeSiteCSV(path string, m siteMap, extra ...csvColumn) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		header := []string{"site", "layer", "index", "token", "value"}
		for _, c := range extra {
			header = append(header, c.name)
		}
		if err := cw.Write(header); err != nil {
			return err
		}
		for _, site := range m.sites {
			for l, row := range m.values[site] {
				for i, v := range row {
					token := ""
					if perPosition(site) && i < len(m.labels) {
						token = m.labels[i]
					}
					rec := []string{site, strconv.Itoa(l), strconv.Itoa(i), token, formatCSVValue(v)}
					for _, c := range extra {
						rec = append(rec, c.cell(site, l, i))
					}
					if err := cw.Write(rec); err != nil {
						return err
					}
				}
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// formatCSVValue formats v with the fewest digits that read back exactly.
func formatCSVValue(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// perPosition reports whether a site family's values are by position.
func perPosition(site string) bool {
	return site == interp.SiteResidPre || site == interp.SiteAttnOut || site == interp.SiteMLPOut
}
