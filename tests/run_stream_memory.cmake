# Streaming keeps memory bounded (issue 14): a generated training file whose f64 matrix would take
# 2 GiB (12288 features x 21846 examples, 268 MB of uint8) is trained from with
# `cat_classifier train --stream` for one epoch of mini-batches of 256; the peak resident set of
# the program and of its reader process (peak_rss: getrusage(RUSAGE_CHILDREN), the largest of
# them) must stay under 200 MiB. Then the same without --stream under a 1.5 GiB address-space
# limit: the program must stream on its own and say so in one line. The file is deleted after.
# -DMAKE_DATASET= -DCAT_CLASSIFIER= -DPEAK_RSS= -DWORK_DIR=
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(examples 21846)
execute_process(COMMAND ${MAKE_DATASET} --random --examples ${examples} --test-examples 20 --seed 7 --out ${WORK_DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  file(REMOVE_RECURSE ${WORK_DIR})
  message(FATAL_ERROR "make_dataset failed (${rc}): ${err}")
endif()
message(STATUS "${out}")

function(train label limit_args stream_flag)
  execute_process(COMMAND ${PEAK_RSS} ${limit_args} ${CAT_CLASSIFIER} train ${stream_flag} --data ${WORK_DIR}
      --iterations 1 --mini-batch-size 256 --optimizer adam --learning-rate 0.001 --out ${WORK_DIR}/out_${label}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(REGEX MATCH "peak_rss_mib ([0-9.]+)" _ "${out}")
  set(rss ${CMAKE_MATCH_1})
  message(STATUS "${label}: exit ${rc}, peak RSS ${rss} MiB (the program and its reader, the larger)\n${out}${err}")
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE ${WORK_DIR})
    message(FATAL_ERROR "${label}: cat_classifier failed (${rc}): ${err}")
  endif()
  if(NOT out MATCHES "train accuracy: " OR NOT EXISTS ${WORK_DIR}/out_${label}/model.h5)
    file(REMOVE_RECURSE ${WORK_DIR})
    message(FATAL_ERROR "${label}: no training happened:\n${out}")
  endif()
  if(rss STREQUAL "" OR rss GREATER_EQUAL 200)
    file(REMOVE_RECURSE ${WORK_DIR})
    message(FATAL_ERROR "${label}: peak RSS ${rss} MiB, expected < 200 MiB")
  endif()
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

train(stream "" --stream)
train(automatic "--as-mib;1536" "")
if(NOT last_err MATCHES "cat_classifier: the training set \\([0-9]+ MiB as f64\\) does not fit in the available memory \\(1536 MiB\\), streaming it from ")
  file(REMOVE_RECURSE ${WORK_DIR})
  message(FATAL_ERROR "automatic: no notice of streaming on stderr:\n${last_err}")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
