# Runs one libFuzzer target briefly on a fresh copy of its seed corpus (the source tree is never
# written). Called by ctest: cmake -DFUZZER= -DSEEDS= -DDICT= -DWORK= -DSECONDS= [-DEXTRA=args]
# [-DSAMPLES=dir] -P run_fuzzer.cmake. With SAMPLES, every *.jsonl sample message in that
# directory (and its samples/ folder) is added as a seed too (seed_from_samples.py).
file(REMOVE_RECURSE ${WORK}/corpus)
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
if(SAMPLES)
  file(GLOB sample_files ${SAMPLES}/*.jsonl ${SAMPLES}/samples/*.jsonl)
  execute_process(
    COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/seed_from_samples.py ${WORK}/corpus ${sample_files}
    RESULT_VARIABLE seed_rc)
  if(NOT seed_rc EQUAL 0)
    message(FATAL_ERROR "seed_from_samples.py failed (exit ${seed_rc})")
  endif()
endif()
set(dict_arg "")
if(DICT)
  set(dict_arg -dict=${DICT})
endif()
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10 ${dict_arg}
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${EXTRA} ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); the input is in ${WORK}/artifacts/")
endif()
