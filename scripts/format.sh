#!/usr/bin/env bash
# Formats every tracked *.cpp/*.hpp with the checked-in .clang-format.
#
#   bash scripts/format.sh           reformat in place
#   bash scripts/format.sh --check   change nothing; exit non-zero if a file needs formatting
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
case "${1-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: bash scripts/format.sh [--check]" >&2; exit 2 ;;
esac

command -v clang-format >/dev/null || {
  echo "format.sh: clang-format not found (bash scripts/install-deps.sh installs it)" >&2
  exit 1
}

files=()
while IFS= read -r -d '' f; do
  [[ -f $f ]] && files+=("$f")  # skip tracked files deleted in the work tree
done < <(git ls-files -z -- '*.cpp' '*.hpp')

if ((${#files[@]} == 0)); then
  echo "format.sh: no tracked *.cpp/*.hpp files"
  exit 0
fi

if ((check)); then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  if clang-format --dry-run --Werror "${files[@]}" 2>"$log"; then
    echo "format.sh: ${#files[@]} files are formatted ($(clang-format --version))"
    exit 0
  fi
  head -n 40 "$log" >&2
  echo "..." >&2
  echo "format.sh: these files need formatting ($(clang-format --version)):" >&2
  sed -n 's/^\([^: ]*\):[0-9]*:[0-9]*: error: .*/  \1/p' "$log" | sort -u >&2
  echo "format.sh: run 'bash scripts/format.sh' to reformat them in place" >&2
  exit 1
else
  clang-format -i "${files[@]}"
  echo "format.sh: formatted ${#files[@]} files"
fi
