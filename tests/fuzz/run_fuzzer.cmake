# Runs one libFuzzer target briefly on a fresh copy of its seed corpus (the source tree is never
# written). Called by ctest: cmake -DFUZZER= -DSEEDS= -DDICT= -DWORK= -DSECONDS= [-DEXTRA=args]
# -P run_fuzzer.cmake
file(REMOVE_RECURSE ${WORK}/corpus)
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(GLOB seeds ${SEEDS}/*)
file(COPY ${seeds} DESTINATION ${WORK}/corpus)
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
