# cmake -DNM=... -DOBJECT=... -DALLOWED="sym;sym" -P undefined_only.cmake
# Fails unless OBJECT's undefined symbols are exactly ALLOWED: for cni-plugin/quick.c, which
# runs before libc starts and so must call nothing of it (not even a memcpy the compiler
# made up).
execute_process(COMMAND ${NM} -u ${OBJECT} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${OBJECT} failed (${rc})")
endif()
string(REGEX MATCHALL "U [^\n]+" found "${out}")
list(TRANSFORM found REPLACE "^U " "")
list(SORT found)
list(SORT ALLOWED)
if(NOT found STREQUAL ALLOWED)
  message(FATAL_ERROR "${OBJECT} needs [${found}], allowed [${ALLOWED}]")
endif()
message(STATUS "${OBJECT}: undefined symbols [${found}], as allowed")
