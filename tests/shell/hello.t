#!/bin/sh
# A module author's CI check, in plain sh with TAP output: load, check what init printed and a
# parameter, unload cleanly. Run: sh tests/shell/hello.t
. "$(dirname "$0")/../../scripts/pk.sh"
KO=$PK_ROOT/tests/modules/prebuilt

pk_plan 7
pk_up
pk_ok "hello loads with count=2"         pk_load "$KO/hello.ko" count=2 who=ci
pk_ok "init greeted twice"               pk_dmesg_has "hello: hello ci (2 of 2)"
pk_ok "it shows in /proc/modules"        pk_loaded hello
pk_ok "count reads back"                 pk_param_is hello count 2
pk_ok "out-of-tree and unsigned taint"   pk_tainted_is 12288
pk_ok "it unloads cleanly"               pk_unload_clean hello
pk_ok "exit said goodbye"                pk_dmesg_has "hello: goodbye ci"
pk_down
pk_done
