package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/interp-go/interp/interp"
)

// Heat map geometry.
const (
	cellWidth       = 0.5 * vg.Inch
	cellHeight      = 0.4 * vg.Inch
	colorBarWidth   = 0.9 * vg.Inch
	maxAnnotated    = 600 // cells beyond which values are not printed in the cells
	heatmapPalettes = 255 // colours of the palette
)

// heatmapPath returns path with the site inserted before its extension:
// out.png becomes out.resid_pre.png, and out becomes out.resid_pre.png.
func heatmapPath(path, site string) string {
	ext := filepath.Ext(path)
	if ext == "" {
		return path + "." + site + ".png"
	}
	return strings.TrimSuffix(path, ext) + "." + site + ext
}

// writeHeatmaps writes one PNG heat map per site of the map.
func writeHeatmaps(path string, m siteMap) error {
	for _, site := range m.sites {
		values := m.values[site]
		if len(values) == 0 || len(values[0]) == 0 || slices.Contains(listedSites, site) {
			// Neuron and pattern-entry families have too many columns for a
			// readable map; the CSV and JSON outputs have them.
			continue
		}
		out := heatmapPath(path, site)
		err := writeFileAtomic(out, func(w io.Writer) error { return drawHeatmap(w, site, values, m) })
		if err != nil {
			return err
		}
	}
	return nil
}

// siteGrid presents one site's values [layer][column] as a plotter.GridXYZ
// with layer 0 in the top row, as in TransformerLens's patching plots.
type siteGrid struct{ values [][]float64 }

func (g siteGrid) Dims() (c, r int)   { return len(g.values[0]), len(g.values) }
func (g siteGrid) Z(c, r int) float64 { return g.values[g.layer(r)][c] }
func (g siteGrid) X(c int) float64    { return float64(c) }
func (g siteGrid) Y(r int) float64    { return float64(r) }
func (g siteGrid) layer(r int) int    { return len(g.values) - 1 - r }

// drawHeatmap draws one site's values as a PNG heat map with a colour bar,
// the colour scale symmetric around 0 and reaching at least ±1.
func drawHeatmap(w io.Writer, site string, values [][]float64, m siteMap) error {
	grid := siteGrid{values}
	cols, rows := grid.Dims()

	limit := 1.0
	for _, row := range values {
		for _, v := range row {
			if !math.IsNaN(v) {
				limit = max(limit, math.Abs(v))
			}
		}
	}
	colors := moreland.SmoothBlueRed()
	colors.SetMin(-limit)
	colors.SetMax(limit)

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s\n%s", m.title, site, filepath.Base(m.model))
	heat := plotter.NewHeatMap(grid, colors.Palette(heatmapPalettes))
	heat.Min, heat.Max = -limit, limit
	heat.NaN = color.Gray{Y: 200}
	p.Add(heat)
	if cols*rows <= maxAnnotated {
		labels, err := cellLabels(grid, limit)
		if err != nil {
			return err
		}
		p.Add(labels)
	}

	// Tick labels: token texts (or heads) along x, layers along y.
	var xTicks, yTicks []plot.Tick
	index, tokens := columnHeaders(site, cols, m.labels)
	for c := range cols {
		label := tokens[c]
		if site != interp.SiteZ {
			label = index[c] + " " + label
		}
		xTicks = append(xTicks, plot.Tick{Value: float64(c), Label: label})
	}
	for row := range rows {
		yTicks = append(yTicks, plot.Tick{Value: float64(row), Label: "L" + strconv.Itoa(grid.layer(row))})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xTicks)
	p.Y.Tick.Marker = plot.ConstantTicks(yTicks)
	if site != interp.SiteZ {
		p.X.Tick.Label.Rotation = math.Pi / 2
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
		p.X.Label.Text = "position"
	} else {
		p.X.Label.Text = "head"
	}
	p.Y.Label.Text = "layer"

	bar := plot.New()
	bar.HideX()
	bar.Y.Padding = 0
	bar.Title.Text = "value"
	bar.Add(&plotter.ColorBar{ColorMap: colors, Vertical: true})

	width := max(5*vg.Inch, vg.Length(cols)*cellWidth+1.5*vg.Inch) + colorBarWidth
	height := max(3*vg.Inch, vg.Length(rows)*cellHeight+2*vg.Inch)
	img := vgimg.New(width, height)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -colorBarWidth, 0, 0))
	bar.Draw(draw.Crop(dc, width-colorBarWidth+0.2*vg.Inch, -0.2*vg.Inch, 0.5*vg.Inch, -0.1*vg.Inch))

	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// cellLabels prints each cell's value at its centre, white on strong
// colours and black elsewhere.
func cellLabels(grid siteGrid, limit float64) (*plotter.Labels, error) {
	cols, rows := grid.Dims()
	var xys plotter.XYs
	var texts []string
	for r := range rows {
		for c := range cols {
			xys = append(xys, plotter.XY{X: grid.X(c), Y: grid.Y(r)})
			texts = append(texts, formatValue(grid.Z(c, r)))
		}
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		v := grid.Z(i%cols, i/cols)
		style := &labels.TextStyle[i]
		style.Font = font.From(plot.DefaultFont, vg.Points(8))
		style.XAlign = draw.XCenter
		style.YAlign = draw.YCenter
		style.Color = color.Black
		if math.Abs(v) > 0.6*limit {
			style.Color = color.White
		}
	}
	return labels, nil
}
