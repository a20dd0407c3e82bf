# SPDX-License-Identifier: AGPL-3.0-or-later
"""netfuzz - the network fuzzer behind tools/scwire-netfuzz.

It plays generated, mutated conversations against a live implementation over
TCP and checks after every case that the implementation still serves.
Modules, one purpose each:

- `case`      a case: a list of client actions over named connections;
- `generate`  valid conversations and the deterministic stream of cases;
- `mutators`  the mutation families that turn a conversation into a case;
- `target`    the implementation under test, started or attached to;
- `runner`    playing one case and recording it in the trace format;
- `oracle`    liveness, outcome classes, memory growth, findings;
- `minimize`  delta debugging of a finding, over actions then bytes;
- `findings`  trace files and the JSON summary;
- `campaign`  the fuzzing loop: cases, oracle, findings, restarts;
- `diff`      the differential mode: one case, two targets, divergences;
- `cli`       the command line.
"""
