#!/usr/bin/env bash
# Produces the training corpora in data/corpus/ (issue 11) on a fresh Debian/Ubuntu machine:
#   kjv.txt       the King James Bible, Debian package bible-kjv: `bible "Gen1:1-Rev22:21"`
#   fortunes.txt  the fortune cookies of Debian package fortunes: its text files under
#                 /usr/share/games/fortunes (not the .dat indexes, not the .u8 symlinks), in byte order,
#                 concatenated. fortunes-min's three files (fortunes, literature, riddles) are not part of it.
# A file already in data/corpus with the expected checksum is kept; otherwise it is copied from
# ../shared/data/corpus when that has the right one, else built from the Debian packages (installed if
# missing). Each result is checked against the checksum of the project's reference corpus; a mismatch
# (another package version) is reported, since token counts quoted in the docs would no longer hold.
# Idempotent: a second run changes nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
out=data/corpus
shared=../shared/data/corpus
declare -A want=(
  [kjv.txt]=82fa5f3788c6a9a010fb128a0f0bf588984b5888a82058520620eded59b033ea
  [fortunes.txt]=2fc106f17c1d1059a2883c69171a75c17df0d426ae6c3de824cca88b787dcc8b
)

sha() { sha256sum "$1" | cut -d' ' -f1; }

# need_pkg PACKAGE: apt-get install it unless it is already installed. It is called from the build
# functions, whose stdout is the corpus file, so everything it says goes to stderr.
need_pkg() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' && return
  echo "get-data: installing Debian package $1" >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$1" >&2
}

# build_kjv: bible wraps lines at $COLUMNS, so fix it at 80, the width of the reference text.
build_kjv() {
  need_pkg bible-kjv
  COLUMNS=80 bible "Gen1:1-Rev22:21" </dev/null
}

# build_fortunes: only the files package fortunes owns, so an installed fortunes-min changes nothing.
build_fortunes() {
  need_pkg fortunes
  dpkg -L fortunes | grep '^/usr/share/games/fortunes/[^/]*$' | LC_ALL=C sort |
    while read -r f; do
      if [ -f "$f" ] && [ ! -L "$f" ] && [ "${f%.dat}" = "$f" ]; then cat "$f"; fi
    done
}

mkdir -p "$out"
trap 'rm -f "$out"/*.tmp' EXIT
for name in kjv.txt fortunes.txt; do
  dst=$out/$name
  if [ -f "$dst" ] && [ "$(sha "$dst")" = "${want[$name]}" ]; then
    echo "get-data: $dst is up to date"
    continue
  fi
  if [ -f "$shared/$name" ] && [ "$(sha "$shared/$name")" = "${want[$name]}" ]; then
    cp "$shared/$name" "$dst.tmp"
    echo "get-data: copied $shared/$name to $dst"
  else
    "build_${name%.txt}" >"$dst.tmp"
    echo "get-data: built $dst from Debian packages"
  fi
  mv "$dst.tmp" "$dst"
  got=$(sha "$dst")
  if [ "$got" != "${want[$name]}" ]; then
    echo "get-data: WARNING: $dst has sha256 $got, not the reference ${want[$name]}" >&2
  fi
  echo "get-data: $dst: $(wc -c <"$dst") bytes"
done
