"""The loader's fuzz harness (issue 6): mutated real modules through Kernel.finit_module() and
Kernel.init_module(), with the invariants every call must keep.

Design
------
* Seeds are real modules: the fixtures in tests/modules/prebuilt and, when the tree is on the
  machine, a fixed sample of Debian's own 6.1.0-56-amd64 modules. Each seed is parsed once
  (ELF header, section headers, symbols, relocations, .modinfo, __versions, __param, struct
  module's name) so that mutations can aim at fields rather than at random bytes only.
* One test case is a *recipe*: a short byte string read by `Source`. It picks the seed, the
  entry point (finit_module or init_module), the flags, the parameter string and a few
  structure-aware mutations with their values (ELF header fields, section header fields,
  symbol entries, relocation entries, .modinfo strings, __versions entries, __param entries,
  the module's name, truncation, appended signature trailers, moved and resized sections)
  plus byte flips. The same recipe always builds the same input, so a recipe is a complete
  reproducer (`scripts/fuzz --replay HEX`). The random engine feeds random recipes; the
  atheris engine lets libFuzzer mutate recipes with coverage feedback from the loader.
* `Harness.run_one()` builds the input, makes the system call and checks:
    - the call returns a LIVE module (which is then unloaded) or raises LoadError with a
      positive errno that has a name; nothing else escapes, neither from the load nor from
      the unload;
    - the module list and the module area are as they were before the call (a failed load
      left nothing behind and leaked no module memory; a loaded and unloaded module neither),
      except after an oops, which leaves the module COMING as the real kernel does;
    - a rejection the kernel reports in its log left a record in the log (`silent` counts
      the ones that did not, by reason);
    - /proc/modules, read through the views, lists exactly the formed modules;
    - periodically, and before each Kernel is thrown away, hello.ko still loads and unloads.
  A Kernel is reused for many executions and replaced periodically, and at once when a
  module could not be removed.
"""
from .harness import Finding, Harness, Stats, describe, finding_id, fuzz, random_recipes, seed_of
from .mutate import build_case, load_seeds

__all__ = ["Finding", "Harness", "Stats", "build_case", "describe", "finding_id", "fuzz", "load_seeds",
           "random_recipes", "seed_of"]
