#!/bin/sh
# Expected failures are tests too: a module with a missing symbol must not load, a failing init
# must report its errno as insmod does.
. "$(dirname "$0")/../../scripts/pk.sh"
KO=$PK_ROOT/tests/modules/prebuilt

unknown_symbol() {
	out=$(pk_load "$KO/unknown_sym.ko" 2>&1) && return 1
	[ "$out" = "insmod: ERROR: could not insert module $KO/unknown_sym.ko: Unknown symbol in module" ]
}
enomem() {
	out=$(pk_load "$KO/enomem.ko" 2>&1) && return 1
	[ "$out" = "insmod: ERROR: could not insert module $KO/enomem.ko: Cannot allocate memory" ]
}

pk_plan 4
pk_up
pk_ok "unknown symbol is refused"         unknown_symbol
pk_ok "every unknown symbol is listed"    pk_dmesg_has "unknown_sym: Unknown symbol pseudokernel_no_such_other (err -2)"
pk_ok "init -ENOMEM fails the load"       enomem
pk_ok "nothing stays loaded"              pk_not_loaded enomem
pk_down
pk_done
