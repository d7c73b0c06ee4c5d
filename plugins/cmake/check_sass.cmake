# ctest helper: fails unless ARCHIVE holds SASS (cubin) for every architecture in ARCHS.
# cmake -DCUOBJDUMP=... -DARCHIVE=... -DARCHS="75;80" -P check_sass.cmake
execute_process(COMMAND ${CUOBJDUMP} --list-elf ${ARCHIVE} OUTPUT_VARIABLE elves RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cuobjdump --list-elf ${ARCHIVE} failed (${rc})")
endif()
foreach(arch IN LISTS ARCHS)
  string(REGEX REPLACE "-(real|virtual)$" "" arch "${arch}")
  if(NOT elves MATCHES "\\.sm_${arch}\\.cubin")
    message(FATAL_ERROR "no SASS for sm_${arch} in ${ARCHIVE}:\n${elves}")
  endif()
  message(STATUS "sm_${arch}: SASS present")
endforeach()
