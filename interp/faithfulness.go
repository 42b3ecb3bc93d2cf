package interp

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// SiteScore is one site's value in a map of site families.
type SiteScore struct {
	Site  string  `json:"site"`
	Layer int     `json:"layer"`
	Index int     `json:"index"` // position, or head for z
	Value float64 `json:"value"`
}

// TopSites returns the n sites of largest |value| over all families,
// largest first.
func TopSites(sites map[string][][]float64, n int) []SiteScore {
	var all []SiteScore
	for _, s := range AllSites {
		all = append(all, siteList(sites, s)...)
	}
	return topOf(all, n)
}

// TopSitesOf returns the n sites of largest |value| in one family.
func TopSitesOf(sites map[string][][]float64, site string, n int) []SiteScore {
	return topOf(siteList(sites, site), n)
}

func siteList(sites map[string][][]float64, site string) []SiteScore {
	var out []SiteScore
	for l, row := range sites[site] {
		for i, v := range row {
			out = append(out, SiteScore{Site: site, Layer: l, Index: i, Value: v})
		}
	}
	return out
}

func topOf(all []SiteScore, n int) []SiteScore {
	sort.SliceStable(all, func(i, j int) bool { return math.Abs(all[i].Value) > math.Abs(all[j].Value) })
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// Correlation returns, for each site family present in both results, the
// Pearson correlation between the attribution scores and the patching
// effects M_patched − M_corrupt (the patching value times clean − corrupt,
// so that the sign of the normalization cannot flip it). A family whose
// scores or effects do not vary gets 0.
func Correlation(attr *AttributionResult, patch *PatchResult) map[string]float64 {
	out := map[string]float64{}
	denom := patch.CleanValue - patch.CorruptValue
	for site, layers := range attr.Sites {
		effects, ok := patch.Sites[site]
		if !ok || len(effects) != len(layers) {
			continue
		}
		var x, y []float64
		for l := range layers {
			if len(layers[l]) != len(effects[l]) {
				continue
			}
			for i, v := range layers[l] {
				x = append(x, v)
				y = append(y, effects[l][i]*denom)
			}
		}
		r := 0.0
		if len(x) > 1 && stat.Variance(x, nil) > 0 && stat.Variance(y, nil) > 0 {
			r = stat.Correlation(x, y, nil)
		}
		out[site] = r
	}
	return out
}
