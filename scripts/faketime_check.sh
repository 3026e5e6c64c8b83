#!/usr/bin/env bash
# The date-sensitive tests, run as if today were another day: a Saturday, 12/30 (年末年始), and a day
# in another month and year. A test that passes on one date and fails on another is a defect.
#
# How: libfaketime (Debian package `faketime`) with a start-at timestamp, `faketime -f "@..."`: the
# process's wall clock starts at that moment and keeps ticking (a frozen clock would hang timeouts
# and leases). The PostgreSQL server is NOT under faketime (it keeps the real date); that is
# deliberate: times must come from bot.clock, not from the database server's now().
#
# Cost: the modules take about 2.5 minutes on 2 cores for both databases. To keep CI at a few
# minutes, the Saturday and 12/30 runs use SQLite only (-k "not postgresql": SQLite cases and the
# tests that use no database); the third date runs both SQLite and PostgreSQL.
#
# Usage: scripts/faketime_check.sh [extra pytest args]   (run from anywhere; needs ./.venv)
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
export MADOGUCHI_TEST_POSTGRES_URL="${MADOGUCHI_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"

command -v faketime >/dev/null || { echo "faketime_check: faketime is not installed (apt-get install faketime)" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "faketime_check: no $PYTHON (run python3 dev.py test once to set up the venv)" >&2; exit 2; }

# Required: a module that moved must be moved here too, not silently left out.
modules=(
  tests/handlers/reservations/   # booking window, cutoff, holidays; test_reminders.py: reminder times
  tests/handlers/gis/test_flow.py
  tests/handlers/garbage/        # the garbage calendar and 年末年始 (was tests/handlers/gis/test_garbage.py)
  tests/nlu/test_dates.py
)
for module in "${modules[@]}"; do
  [ -e "$module" ] || { echo "faketime_check: $module is missing (moved? update this script)" >&2; exit 2; }
done
# Run when they exist.
for optional in tests/handlers/classes tests/handlers/broadcasts tests/handlers/forms; do
  [ -d "$optional" ] && modules+=("$optional")
done

# The city's time, Asia/Tokyo; converted below to this machine's local time, which is how
# libfaketime reads the timestamp. The third one is early morning in Tokyo: the UTC date is still
# the day before, so code that takes "today" from UTC instead of Tokyo shows up.
runs=(
  "2027-02-13 10:00:00|sqlite|a Saturday"
  "2026-12-30 09:00:00|sqlite|12/30, 年末年始"
  "2028-06-07 07:30:00|both|another month and year (UTC date: the 6th)"
)

# libfaketime 0.9.10 (Debian's) and Python 3.11 disagree in both of its monotonic modes:
#  - monotonic faked (the default): every timed lock wait (threading.Event.wait, Lock.acquire with a
#    timeout) hangs, because glibc's sem_clockwait(CLOCK_MONOTONIC) bypasses libfaketime while Python
#    computes its deadline from the faked clock (libfaketime issue #390);
#  - FAKETIME_DONT_FAKE_MONOTONIC=1: time.sleep() fails with "OSError: [Errno 22] Invalid argument",
#    because libfaketime rewrites the real deadline of clock_nanosleep(CLOCK_MONOTONIC,
#    TIMER_ABSTIME) into a negative one (issue #426).
# So the monotonic clock stays real, and a sitecustomize (made below, only for these runs) gives
# time.sleep a relative wait (select) that libfaketime leaves alone. Only the wall clock moves.
# Chromium does not survive FAKETIME_DONT_FAKE_MONOTONIC (its zygote dies), hence no browser tests.
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
cat >"$shim/sitecustomize.py" <<'PY'
"""Under libfaketime with a real monotonic clock: time.sleep without clock_nanosleep(TIMER_ABSTIME)."""
import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
PY
export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
# FAKETIME_FORCE_MONOTONIC_FIX=0: otherwise libfaketime works out on every intercepted
# pthread_cond_timedwait whether glibc needs its fix (getenv + sscanf of the glibc version), which
# made the tests 2-3 times slower; with the monotonic clock left real there is nothing to fix.
# Do not fake file times (bytecode caches of the shared tree), and let a child process go on from
# where its parent is instead of starting at the timestamp again.
export FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0 NO_FAKE_STAT=1 FAKETIME_DONT_RESET=1
export PYTHONDONTWRITEBYTECODE=1

failed=()
for run in "${runs[@]}"; do
  IFS='|' read -r tokyo databases what <<<"$run"
  local_time=$(date -d "$tokyo +0900" '+%Y-%m-%d %H:%M:%S')
  select=(-m "not browser and not rasa")
  [ "$databases" = sqlite ] && select+=(-k "not postgresql")
  echo "faketime_check: $tokyo Tokyo ($what; $databases) — faketime -f \"@$local_time\""
  # The clock really is faked, and ticks (a run on the real date would prove nothing).
  if ! faketime -f "@$local_time" "$PYTHON" -c "
import time
start = time.time(); time.sleep(0.2); later = time.time()
assert abs(start - $(date -d "$tokyo +0900" +%s)) < 60, f'not faked: {time.ctime(start)}'
assert later - start >= 0.2, 'the clock does not tick'
"; then
    failed+=("$tokyo ($what): libfaketime did not take")
    continue
  fi
  if ! faketime -f "@$local_time" "$PYTHON" -m pytest -q -p no:cacheprovider "${select[@]}" "${modules[@]}" "$@"; then
    failed+=("$tokyo ($what)")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'faketime_check: FAILED at %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "faketime_check: passed at every date"
