#!/usr/bin/env bash
# Regenerates screenshots/*.png from the real TUI: runs `invlab` in tmux, drives it with keys
# (two full default training runs on the built-in glyphs), captures the pane with its colours
# (`tmux capture-pane -e`) and renders the ANSI text to PNG (scripts/ansi2png.py, Pillow,
# DejaVu Sans Mono). Takes about ten minutes on a 2-core CPU.
#
#     scripts/screenshots.sh              # every picture
#     scripts/screenshots.sh generator    # only GIT's generator phase (screenshots/generator.png)
set -euo pipefail
only="${1:-all}"
[[ "$only" == all || "$only" == generator ]] || { echo "usage: $0 [generator]" >&2; exit 2; }
cd "$(dirname "$0")/.."

if ! command -v tmux >/dev/null || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]; then
    apt-get update -qq && apt-get install -y -qq tmux fonts-dejavu-core python3-venv >/dev/null
fi
VENV=.screenshots-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import PIL' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q pillow
fi
cargo build -q
BIN="$PWD/target/debug/invlab"

WORK=$(mktemp -d)
trap 'tmux kill-session -t "$S" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export INVLAB_DATA_DIR="$WORK/data" INVLAB_CONFIG_DIR="$WORK/config"
RUNS="$INVLAB_DATA_DIR/runs"
mkdir -p screenshots
# The full default run (glyphs-ROT, Zipf tail, n_max 4800, 20 epochs), so the pictures show what
# the default shows; only the name and the device are set.
sed -e 's/^name = .*/name = "shots-erm"/' -e 's/^device = .*/device = "cpu"/' \
    configs/default.toml > "$WORK/shots.toml"

S=invlab-shots
keys() { for k in "$@"; do tmux send-keys -t "$S" "$k"; sleep 0.15; done; }
shot() {
    sleep 0.5
    tmux capture-pane -p -e -N -t "$S" > "$WORK/$1.ansi"
    "$VENV/bin/python" scripts/ansi2png.py "$WORK/$1.ansi" "screenshots/$1.png"
    echo "screenshots/$1.png"
}
state() { grep -o '"status": *"[a-z]*"' "$RUNS/$1/state.json" 2>/dev/null | grep -o '[a-z]*"$' | tr -d '"'; }
epochs() { grep -o '"epochs_done": *[0-9]*' "$RUNS/$1/state.json" 2>/dev/null | grep -o '[0-9]*$' || echo 0; }
wait_for() { # run, condition command
    for _ in $(seq 1 900); do
        if eval "$2"; then return 0; fi
        sleep 1
    done
    echo "timed out waiting for $1" >&2; return 1
}

gen_iterations() {
    local losses="$RUNS/$1/generator-losses.jsonl"
    if [[ -f "$losses" ]]; then wc -l < "$losses"; else echo 0; fi
}

if [[ "$only" == all ]]; then
tmux kill-session -t "$S" 2>/dev/null || true
tmux new-session -d -s "$S" -x 200 -y 50 "$BIN $WORK/shots.toml"
sleep 2
# 1. The set-up form, the Method field selected: the choice and what it means.
keys j j j j j j j j
shot setup
# The data pane: the form's dataset in pictures (half-blocks in tmux), then back to the form.
keys Tab
sleep 3
shot data
keys BTab
# 2. Train ERM to the end.
keys s
wait_for shots-erm '[ "$(state shots-erm)" = finished ]'
# 3. CE-DRS: next method, rename, start; screenshot mid-run once eKLD has been measured.
keys l l l k k k k k k k e BSpace BSpace BSpace d r s Enter s
wait_for shots-drs '[ "$(epochs shots-drs)" -ge 5 ]'
# The eKLD pane focused (Tab x5 from the form), its class cursor moved into the tail.
keys Tab Tab Tab Tab Tab h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h h
shot live
wait_for shots-drs '[ "$(state shots-drs)" = finished ]'
# 4. Compare: mark both runs (the run list is three Tabs on from the eKLD pane), c.
keys Tab Tab Tab m k m c
shot compare
# 5. Help overlay.
keys '?'
shot help
keys '?' c
# 6. Light theme.
keys t
shot light-theme
keys t t
# 7. 80x24: one pane at a time (the invariance pane of the selected run).
tmux resize-window -t "$S" -x 80 -y 24
keys Tab Tab Tab
shot narrow-80x24
# 8. The data pane at 80x24 (two Tabs on: the form, then the data pane).
keys Tab Tab
sleep 2
shot data-80x24
keys q
fi

# 9. GIT's generator phase (CE-DRS-GIT on the glyphs with BG): the live iteration count, ETA,
# losses and the newest sample grid; captured once two grids have come (a grid and the losses
# file every git.sample_every = 250 iterations), then the run is stopped (x, confirmed with y).
sed -e 's/^name = .*/name = "shots-git"/' -e 's/^device = .*/device = "cpu"/' \
    configs/default-bg-git.toml > "$WORK/git.toml"
tmux kill-session -t "$S" 2>/dev/null || true
tmux new-session -d -s "$S" -x 200 -y 50 "$BIN $WORK/git.toml"
sleep 2
keys s
wait_for shots-git '[ "$(gen_iterations shots-git)" -ge 500 ]'
shot generator
keys x y
wait_for shots-git '[ "$(state shots-git)" = stopped ]'
keys q
