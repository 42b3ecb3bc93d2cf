package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress is shown only for sweeps that are projected to take longer than
// progressMinTotal, and only once progressDelay has passed.
const (
	progressDelay    = time.Second
	progressMinTotal = 2 * time.Second
)

// sweepProgress draws a progress bar on stderr for a long sweep. It draws
// nothing when stderr is not a terminal, so logs and pipes stay clean.
type sweepProgress struct {
	w           io.Writer
	description string
	terminal    bool
	start       time.Time
	bar         *progressbar.ProgressBar
}

func newSweepProgress(stderr io.Writer, description string) *sweepProgress {
	f, ok := stderr.(*os.File)
	return &sweepProgress{
		w:           stderr,
		description: description,
		terminal:    ok && term.IsTerminal(int(f.Fd())),
		start:       time.Now(),
	}
}

// update records that done of total passes are finished.
func (p *sweepProgress) update(done, total int) {
	if !p.terminal || done >= total {
		if p.bar != nil {
			_ = p.bar.Set(done)
		}
		return
	}
	if p.bar == nil {
		elapsed := time.Since(p.start)
		projected := elapsed * time.Duration(total) / time.Duration(max(done, 1))
		if elapsed < progressDelay || projected < progressMinTotal {
			return
		}
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.description),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
	}
	_ = p.bar.Set(done)
}

// finish removes the bar, if one was drawn.
func (p *sweepProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
