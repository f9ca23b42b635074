#!/usr/bin/env bash
# System packages some tasks and tests use. Installs only what is missing, and only as root
# (otherwise it prints the apt-get line to run); never fails the build on its own.
set -u
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v ip >/dev/null || need+=(iproute2)  # the Ray cluster test: a loopback-only network namespace
command -v unshare >/dev/null || need+=(util-linux)
command -v chromium >/dev/null || need+=(chromium)
command -v hey >/dev/null || need+=(hey)  # bench/server.py: a native load generator, so the cores go to the server
[ -e /usr/lib/x86_64-linux-gnu/libsndfile.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libsndfile.so.1 ] || need+=(libsndfile1)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    || echo "warning: apt-get could not install ${need[*]}; the tests that need them will be skipped" >&2
else
  echo "note: for every task and test, install: sudo apt-get install ${need[*]}" >&2
fi
exit 0
