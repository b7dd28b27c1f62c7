#!/usr/bin/env bash
# The generated man page and bash completion (app/docs.cpp), as a user meets them: the
# man page formats without a warning, and completing words in bash offers what the
# commands take. Usage: docs_test.sh CCP
set -euo pipefail
ccp=$1
fail() { echo "docs_test: $*" >&2; exit 1; }

man=$(mktemp)
trap 'rm -f "$man"' EXIT
"$ccp" help --man >"$man"
if command -v groff >/dev/null; then
  warnings=$(groff -man -ww -z "$man" 2>&1) || fail "groff failed: $warnings"
  [[ -z $warnings ]] || fail "groff warns about the man page: $warnings"
fi
grep -q '^\.SS request$' "$man" || fail "the man page has no section for request"
grep -q 'CCP_PROXY_SECRET' "$man" || fail "the man page does not name CCP_PROXY_SECRET"

source <("$ccp" completion bash)
complete_words() {  # complete_words WORD... : what bash would offer for the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _ccp
  echo "${COMPREPLY[*]}"
}
[[ $(complete_words ccp req) == request ]] || fail "ccp req -> '$(complete_words ccp req)'"
[[ $(complete_words ccp help agent) == "agent agents" ]] ||
  fail "ccp help agent -> '$(complete_words ccp help agent)'"
[[ $(complete_words ccp proxy --secret) == "--secret-file --secret" ]] ||
  fail "ccp proxy --secret -> '$(complete_words ccp proxy --secret)'"
[[ $(complete_words ccp send --t) == "" ]] || fail "send offers --timeout, which it does not take"
cd "$(dirname "$man")"
[[ $(complete_words ccp agent --token-file "$(basename "$man")") == "$(basename "$man")" ]] ||
  fail "--token-file does not complete a file name"
echo "docs_test: man page and completion ok"
