#!/bin/sh
# The example project: a tiny program that greets someone.
echo "hello, ${1:-world}"
