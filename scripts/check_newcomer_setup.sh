#!/usr/bin/env bash
# The README's two commands, `make demo` and `make test`, on a fresh clone, in one of the setups a
# newcomer has:
#
#   scripts/check_newcomer_setup.sh root            # as root, with the default python3 on the PATH
#   scripts/check_newcomer_setup.sh system-python   # make ... PYTHON=/usr/bin/python3 (Debian's,
#                                                   # which refuses pip installs: PEP 668)
#   scripts/check_newcomer_setup.sh non-root        # as a new unprivileged user (made with useradd;
#                                                   # run this as root), Chromium from the PATH
#
# Options, from the environment:
#   SOURCE=/path/or/url   what to clone (default: this repository); REF=commit-or-branch (default HEAD)
#   COPY_WORKTREE=1       copy SOURCE's working tree (tracked and untracked, not ignored) instead of
#                         cloning it, to check changes before they are committed
#   PYTEST_ARGS=...       the tests `make test` runs; unset: the packaging, wheel and browser tests,
#                         which cover the set-up (the whole suite takes tens of minutes on 2 cores);
#                         set and empty: the whole suite
#   KEEP=1                keep the clone (and its .venv) afterwards
#
# `make demo` runs to the point where the server answers /api/info, then is stopped.
set -euo pipefail

SETUP=${1:?"usage: $0 root|system-python|non-root"}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SOURCE=${SOURCE:-$HERE}
REF=${REF:-}
PYTEST_ARGS=${PYTEST_ARGS-tests/test_package.py tests/test_wheel.py tests/browser -x}
NEWCOMER=amplio-newcomer
DEMO_TIMEOUT_S=${DEMO_TIMEOUT_S:-2400}

say() { printf '\n#### [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

case "$SETUP" in
  root|non-root)
    [ "$(id -u)" = 0 ] || { echo "$SETUP: run this as root" >&2; exit 2; } ;;
  system-python)
    [ -x /usr/bin/python3 ] || { echo "system-python: no /usr/bin/python3 here" >&2; exit 2; } ;;
  *) echo "unknown setup: $SETUP (root, system-python or non-root)" >&2; exit 2 ;;
esac

if [ "$SETUP" = non-root ]; then
  id "$NEWCOMER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$NEWCOMER"
  BASE=$(getent passwd "$NEWCOMER" | cut -d: -f6)
  WORK=$(mktemp -d "$BASE/setup.XXXXXX")
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/amplio-setup-$SETUP.XXXXXX")
fi
CLONE=$WORK/amplio
DEMO_PID=

cleanup() {
  if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill -TERM -- "-$DEMO_PID" 2>/dev/null || true
    sleep 2
    kill -KILL -- "-$DEMO_PID" 2>/dev/null || true
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

say "setup '$SETUP': fresh copy of $SOURCE${REF:+ at $REF} in $CLONE"
if [ -n "${COPY_WORKTREE:-}" ]; then
  mkdir -p "$CLONE"
  (cd "$SOURCE" && git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) \
    | tar -xf - -C "$CLONE"
  # A git index, so that the copy looks like a clone to the tools that ask git which files exist.
  git -C "$CLONE" init -q && git -C "$CLONE" add -A
else
  git clone -q "$SOURCE" "$CLONE"
  [ -z "$REF" ] || git -C "$CLONE" checkout -q "$REF"
  git -C "$CLONE" log -1 --format='commit %h %s' | cut -c1-100
fi

MAKE_VARS=()
[ "$SETUP" = system-python ] && MAKE_VARS+=(PYTHON=/usr/bin/python3)

# The command line each step runs, as the setup's user.
if [ "$SETUP" = non-root ]; then
  chown -R "$NEWCOMER:" "$WORK"
  # This machine's package-index settings (a local mirror) travel with the user, as a newcomer's
  # own pip configuration would; nothing else of root's environment does.
  if [ -f "$HOME/.config/pip/pip.conf" ]; then
    install -D -o "$NEWCOMER" -m 644 "$HOME/.config/pip/pip.conf" "$BASE/.config/pip/pip.conf"
    chown -R "$NEWCOMER:" "$BASE/.config"
  fi
  PASS=(HOME="$BASE" USER="$NEWCOMER" LOGNAME="$NEWCOMER" SHELL=/bin/bash LANG=C.UTF-8
        PATH=/usr/local/bin:/usr/bin:/bin)
  while IFS='=' read -r name value; do
    case "$name" in PIP_*|HF_HUB_OFFLINE|TRANSFORMERS_OFFLINE|AMPLIO_DATASETS) PASS+=("$name=$value") ;; esac
  done < <(env)
  as_user() { runuser -u "$NEWCOMER" -- env -i "${PASS[@]}" bash -c "cd '$CLONE' && $1"; }
else
  as_user() { bash -c "cd '$CLONE' && $1"; }
fi

say "who and what: $(as_user 'echo "user $(id -un) (uid $(id -u)); python3 on PATH: $(command -v python3) ($(python3 -V 2>&1)); chromium: $(command -v chromium || command -v chromium-browser || command -v google-chrome || echo none)"')"
[ "$SETUP" != system-python ] || say "/usr/bin/python3: $(/usr/bin/python3 -V); $(/usr/bin/python3 -c 'import sysconfig,os; p=os.path.join(sysconfig.get_path("stdlib"),"EXTERNALLY-MANAGED"); print("externally managed (PEP 668)" if os.path.exists(p) else "not externally managed")')"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DEMO_LOG=$WORK/demo.log
say "make demo ${MAKE_VARS[*]} DEMO_ARGS='--no-browser --port $PORT'  (stopped once /api/info answers)"
start=$SECONDS
# Job control gives the background job its own process group, so that stopping it stops the server
# that make started, too.
set -m
as_user "make demo ${MAKE_VARS[*]} DEMO_ARGS='--no-browser --port $PORT'" >"$DEMO_LOG" 2>&1 &
DEMO_PID=$!
set +m
served=
while kill -0 "$DEMO_PID" 2>/dev/null && [ $((SECONDS - start)) -lt "$DEMO_TIMEOUT_S" ]; do
  if info=$(curl -sf "http://127.0.0.1:$PORT/api/info" 2>/dev/null); then served=1; break; fi
  sleep 3
done
# tqdm redraws a line with carriage returns; keep each line's last state.
sed 's/.*\r//' "$DEMO_LOG" | grep -v '^[[:space:]]*$' || true
if [ -z "$served" ]; then
  say "make demo FAILED: nothing answered on port $PORT after $((SECONDS - start)) s"; exit 1
fi
page=$(curl -sf "http://127.0.0.1:$PORT/" | grep -o '<title>[^<]*</title>' || true)
say "make demo OK after $((SECONDS - start)) s: / gives $page; /api/info gives rows=$(printf '%s' "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')"
kill -TERM -- "-$DEMO_PID" 2>/dev/null || true
wait "$DEMO_PID" 2>/dev/null || true
DEMO_PID=

say "make test ${MAKE_VARS[*]} PYTEST_ARGS='$PYTEST_ARGS'"
start=$SECONDS
status=0
as_user "make test ${MAKE_VARS[*]} PYTEST_ARGS='$PYTEST_ARGS'" 2>&1 | sed 's/.*\r//' || status=$?
if [ "$status" = 0 ]; then
  say "make test OK after $((SECONDS - start)) s"
else
  say "make test FAILED (exit $status) after $((SECONDS - start)) s"; exit "$status"
fi
say "setup '$SETUP': make demo and make test succeeded on a fresh copy"
