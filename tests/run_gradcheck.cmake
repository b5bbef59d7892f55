# Runs the built gradcheck program (ctest: gradcheck_program). Inputs: -DGRADCHECK=<program>
# -DDATA_DIR=<cat dataset, may be missing> -DWORK_DIR=<scratch directory>.
# The default run passes and prints PASS rows; so do tanh networks with L2 and dropout (fixed masks);
# a failed check exits 1; bad input exits 2 with exactly one line "gradcheck: <message>" on stderr
# and nothing on stdout. `--ops` (f64 and f32) passes with exactly one PASS row per op of the op
# table (include/xgrad/core/op_list.hpp).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_gc expect_rc out_var err_var)
  execute_process(COMMAND "${GRADCHECK}" ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT "${rc}" STREQUAL "${expect_rc}")
    message(FATAL_ERROR "gradcheck ${ARGN}: exit ${rc}, expected ${expect_rc}\n"
                        "stdout:\n${out}\nstderr:\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

function(expect_match text regex what)
  if(NOT "${text}" MATCHES "${regex}")
    message(FATAL_ERROR "${what}: no match for '${regex}' in:\n${text}")
  endif()
endfunction()

# ---- the default run: the small network and the seed's, every row PASS -------------------------
run_gc(0 out err)
expect_match("${out}" "== default: \\[5,4,3,1\\] relu,relu,sigmoid" "default run")
expect_match("${out}" "== seed: \\[12288,20,7,5,1\\] relu,relu,relu,sigmoid" "default run")
expect_match("${out}" "\n   dW1 +245760 \\| +[0-9.e+-]+ +[0-9.e+-]+  PASS +\\| +[0-9.e+-]+ +[0-9.e+-]+  PASS +\\| +200 +[0-9]+\n" "seed dW1 row")
expect_match("${out}" "result: PASS \\(12 rows\\)" "default run")
expect_match("${out}" "result: PASS \\(16 rows\\)" "default run")
expect_match("${out}" "excluded at relu kinks" "default run")
string(REGEX MATCHALL "\n   d[WbZA][0-9] [^\n]*PASS" rows "${out}")
list(LENGTH rows n)
if(NOT n EQUAL 28)
  message(FATAL_ERROR "default run: ${n} PASS rows, expected 28 (12 + 16):\n${out}")
endif()
if("${out}" MATCHES "FAIL")
  message(FATAL_ERROR "default run prints FAIL:\n${out}")
endif()

# ---- JSON, dump, and a failed check -----------------------------------------------------------
run_gc(0 out err --layers 4,3,1 --activations relu,sigmoid --examples 6 --json
       --dump "${WORK_DIR}/grads.h5")
expect_match("${out}" "^{\"pass\": true, \"checks\": \\[" "--json")
if(NOT EXISTS "${WORK_DIR}/grads.h5")
  message(FATAL_ERROR "--dump wrote no ${WORK_DIR}/grads.h5")
endif()
find_program(PYTHON3 python3)
if(PYTHON3)
  file(WRITE "${WORK_DIR}/out.json" "${out}")
  execute_process(COMMAND "${PYTHON3}" -c
    "import json,sys; d=json.load(open(sys.argv[1])); c=d['checks'][0]; assert d['pass'] and c['dims']==[4,3,1] and [r['name'] for r in c['rows']]==['dW1','db1','dZ1','dA1','dW2','db2','dZ2','dA2'] and c['rows'][2]['fd'] is None and c['rows'][0]['fd']['pass'], d"
    "${WORK_DIR}/out.json" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "--json output is not the expected JSON: ${err}\n${out}")
  endif()
endif()

# ---- tanh, L2 and dropout with fixed masks (issue 6) ---------------------------------------------
run_gc(0 out err --layers 5,4,3,1 --activations tanh,relu,sigmoid --lambd 0.7 --keep-prob 0.8)
expect_match("${out}" "== layers: \\[5,4,3,1\\] tanh,relu,sigmoid" "tanh + L2 + dropout")
expect_match("${out}" "\n   L2: lambd 0.7," "tanh + L2 + dropout states lambd")
expect_match("${out}" "\n   dropout: keep_prob 0.8,0.8, mask seed 1: masks drawn once by draw_masks\\(NumpyRandom\\(1\\)\\)"
             "tanh + L2 + dropout states keep_prob and the mask seed")
expect_match("${out}" "result: PASS \\(12 rows\\)" "tanh + L2 + dropout")
string(REGEX MATCHALL "\n   d[WbZA][0-9] [^\n]*PASS" rows "${out}")
list(LENGTH rows n)
if(NOT n EQUAL 12 OR "${out}" MATCHES "FAIL")
  message(FATAL_ERROR "tanh + L2 + dropout: ${n} PASS rows, expected 12 and no FAIL:\n${out}")
endif()
# Without --keep-prob and --lambd there is no L2 or dropout line.
run_gc(0 out err --layers 5,4,3,1 --activations tanh,relu,sigmoid)
if("${out}" MATCHES "\n   (L2|dropout):")
  message(FATAL_ERROR "no --lambd / --keep-prob, but an L2 or dropout line:\n${out}")
endif()
# The default run (both networks) with one keep value, a mask seed, and every FD entry of the
# small network; per-layer values and a softmax output.
run_gc(0 out err --lambd 0.7 --keep-prob 0.8 --mask-seed 3)
expect_match("${out}" "keep_prob 0.8,0.8,0.8, mask seed 3" "default run with dropout: the seed's network")
expect_match("${out}" "result: PASS \\(16 rows\\)" "default run with dropout")
run_gc(0 out err --layers 6,5,4,3 --activations tanh,relu,softmax --lambd 0.7 --keep-prob 0.6,0.9
       --sample 0)
expect_match("${out}" "keep_prob 0.6,0.9" "softmax with dropout")
expect_match("${out}" "result: PASS \\(11 rows\\)" "softmax: no dA3 row")
# JSON and the dump carry the settings.
run_gc(0 out err --layers 5,4,3,1 --activations tanh,relu,sigmoid --lambd 0.7 --keep-prob 0.8
       --mask-seed 2 --json --dump "${WORK_DIR}/reg.h5")
expect_match("${out}" "\"lambd\": 0.69999999999999996, \"keep_prob\": \\[0.80000000000000004, 0.80000000000000004\\], \"mask_seed\": 2"
             "--json with --lambd/--keep-prob")
if(NOT EXISTS "${WORK_DIR}/reg.h5")
  message(FATAL_ERROR "--dump wrote no ${WORK_DIR}/reg.h5")
endif()
if(PYTHON3)
  file(WRITE "${WORK_DIR}/reg.json" "${out}")
  execute_process(COMMAND "${PYTHON3}" -c
    "import json,sys; d=json.load(open(sys.argv[1])); c=d['checks'][0]; assert d['pass'] and c['lambd']==0.7 and c['keep_prob']==[0.8,0.8] and c['mask_seed']==2 and c['mask_dropped']>0, c"
    "${WORK_DIR}/reg.json" RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "--json with L2 and dropout is not the expected JSON: ${err}\n${out}")
  endif()
endif()

# A threshold of 0 for tape vs hand: rounding differences make rows fail, exit 1.
run_gc(1 out err --layers 4,3,1 --tol-hand 0)
expect_match("${out}" "result: FAIL" "--tol-hand 0")

# ---- --ops: every op of the library by the generic check, one row per op -----------------------
# The op names from the op table, as lib/CMakeLists.txt reads them: each must have exactly one row,
# and it must pass.
file(READ "${CMAKE_CURRENT_LIST_DIR}/../include/xgrad/core/op_list.hpp" _op_list)
string(REGEX MATCHALL "\n +X\\([a-z_0-9]+," _op_lines "${_op_list}")
set(op_names)
foreach(line IN LISTS _op_lines)
  string(REGEX REPLACE "\n +X\\(([a-z_0-9]+)," "\\1" op "${line}")
  list(APPEND op_names ${op})
endforeach()
list(LENGTH op_names n_ops)
if(n_ops LESS 2)
  message(FATAL_ERROR "no ops read from include/xgrad/core/op_list.hpp")
endif()
foreach(dtype f64 f32)
  run_gc(0 out err --ops --dtype ${dtype})
  expect_match("${out}" "== ops: every op of the library on random inputs \\((double|float)\\)" "--ops ${dtype}")
  string(REGEX MATCHALL "\n   [a-z_0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.e+-]+  PASS" rows "${out}")
  list(LENGTH rows n)
  if(NOT n EQUAL n_ops)
    message(FATAL_ERROR "--ops --dtype ${dtype}: ${n} PASS rows, expected one per op (${n_ops}):\n${out}")
  endif()
  foreach(op IN LISTS op_names)
    string(REGEX MATCHALL "\n   ${op} +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.e+-]+  PASS\n" one "${out}")
    list(LENGTH one k)
    if(NOT k EQUAL 1)
      message(FATAL_ERROR "--ops --dtype ${dtype}: op ${op} has ${k} PASS rows, expected 1:\n${out}")
    endif()
  endforeach()
  expect_match("${out}" "\n   result: PASS \\(${n_ops} ops, [0-9]+ cases" "--ops ${dtype}")
  expect_match("${out}" "\ngradcheck: every row passes\n$" "--ops ${dtype}")
  if("${out}" MATCHES "FAIL")
    message(FATAL_ERROR "--ops --dtype ${dtype} prints FAIL:\n${out}")
  endif()
endforeach()
# relu, abs and max have cases at their kinks: detected, counted in their rows, and still PASS.
expect_match("${out}" "\n   relu +[0-9]+ +[0-9]+ +[1-9][0-9]* +[0-9.e+-]+  PASS" "--ops: relu's kinks")
expect_match("${out}" "\n   max +[0-9]+ +[0-9]+ +[1-9][0-9]* +[0-9.e+-]+  PASS" "--ops: max's ties")
# An impossible tolerance: rows fail, each failing case is printed in full, exit 1.
run_gc(1 out err --ops --tol-fd 1e-15)
expect_match("${out}" "\n   result: FAIL \\([0-9]+ of ${n_ops} ops" "--ops --tol-fd 1e-15")
expect_match("${out}" "\n-- failing case: matmul " "--ops --tol-fd 1e-15")
expect_match("${out}" "\ngradcheck: FAILED\n$" "--ops --tol-fd 1e-15")

# ---- bad input: exit 2, one line ----------------------------------------------------------------
function(bad regex)
  run_gc(2 out err ${ARGN})
  if(NOT "${out}" STREQUAL "")
    message(FATAL_ERROR "gradcheck ${ARGN}: printed to stdout on bad input:\n${out}")
  endif()
  expect_match("${err}" "^gradcheck: [^\n]+\n$" "gradcheck ${ARGN}: one line on stderr")
  expect_match("${err}" "${regex}" "gradcheck ${ARGN}")
endfunction()

bad("unknown activation 'gelu'" --layers 5,4,1 --activations relu,gelu)
bad("3 layer sizes need 2 activations" --layers 5,4,1 --activations relu)
bad("'x' is not a layer size" --layers 5,x,1)
bad("--layers: '-3' is not a layer size" --layers 5,-3,1 --activations relu,sigmoid)
bad("size 1 is 99999999999, more than 16777216" --layers 5,99999999999,1 --activations relu,sigmoid)
bad("missing-model.h5" --model "${WORK_DIR}/missing-model.h5")
bad("not expected" --bogus)
bad("--examples must be at least 1" --examples 0)
# memory: the option at fault is named (the examples for a small network, the layers for a huge one)
bad("^gradcheck: --examples 100000000000: checking this network on 100000000000 examples needs at least [0-9]+ MiB; the machine has [0-9]+ MiB available\n$"
    --layers 3,2,1 --examples 100000000000)
bad("^gradcheck: --examples 100000000000: checking this network on 100000000000 examples needs at least"
    --examples 100000000000)
# (20 layers of 46000 x 46000 weights, each under the 2^31 a layer may have: 1.4 TB for the check)
bad("^gradcheck: --layers 46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,1: checking this network needs at least [0-9]+ MiB even for one example; the machine has"
    --layers 46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,46000,1 --examples 1)
bad("--keep-prob: 0 is not in \\(0, 1\\]" --keep-prob 0)
bad("--keep-prob: 1.5 is not in \\(0, 1\\]" --keep-prob 1.5)
bad("--keep-prob: 'x' is not a number" --layers 5,4,3,1 --keep-prob 0.8,x)
bad("--lambd must be a non-negative number.*got -1" --lambd -1)
bad("--keep-prob: 3 values, but \\[5,4,3,1\\] relu,relu,sigmoid has 2 hidden layers" --layers 5,4,3,1 --keep-prob 0.8,0.8,0.8)
bad("--keep-prob: 2 values, but \\[12288,20,7,5,1\\] relu,relu,relu,sigmoid has 3 hidden layers" --keep-prob 0.8,0.8)
bad("--keep-prob: \\[3,1\\] sigmoid has no hidden layer" --layers 3,1 --keep-prob 0.8)
bad("--mask-seed needs --keep-prob" --mask-seed 3)
bad("--dtype: 'f16' is not f32 or f64" --ops --dtype f16)
# the network check is f64 only: --dtype f32 says so (and what --dtype f32 is for), f64 is accepted
bad("--dtype f32: the network check \\(tape vs the seed's formulas vs finite differences\\) runs in f64 only.*--dtype f32 is for --ops" --dtype f32)
bad("--dtype f32: the network check" --dtype f32 --layers 5,4,1 --activations relu,sigmoid)
bad("--dtype: 'f16' is not f32 or f64" --dtype f16)
run_gc(0 out err --dtype f64 --layers 5,4,1 --activations relu,sigmoid)
expect_match("${out}" "\ngradcheck: every row passes\n$" "--dtype f64 without --ops")
bad("--ops checks the library's ops: --layers is an option of the network check" --ops --layers 5,4,1)
bad("--ops checks the library's ops: --json is an option of the network check" --ops --json)
bad("--eps must be a positive number" --ops --eps -1)
# the dataset-size cases: run_gradcheck_data.cmake (ctest: gradcheck_program_data)
bad("not found" --layers 12288,2,1 --data "${WORK_DIR}/no-dataset" --examples 1000)
message(STATUS "gradcheck program: all cases as expected")
