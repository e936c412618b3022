#!/bin/sh
# The example project's tests.
set -e
[ "$(sh greet.sh)" = "hello, world" ] || { echo "FAIL: default greeting"; exit 1; }
[ "$(sh greet.sh dirk)" = "hello, dirk" ] || { echo "FAIL: named greeting"; exit 1; }
echo "tests passed"
