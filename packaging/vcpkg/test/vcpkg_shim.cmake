# Stand-ins for the vcpkg helper functions the port calls, doing what vcpkg does with plain CMake,
# so the portfile's configure/install/fixup steps can run without a vcpkg checkout (vcpkg cannot
# bootstrap offline). Used only by test/run.sh.
# Features come from FEATURES (space-separated, default none), as `vcpkg install ecgssl[onednn]`
# would list them: each FEATURES pair maps a feature to -D<option>=ON or OFF.
function(vcpkg_check_features)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUT_FEATURE_OPTIONS" "FEATURES")
  set(options)
  list(LENGTH arg_FEATURES count)
  math(EXPR last "${count} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET arg_FEATURES ${i} feature)
    list(GET arg_FEATURES ${j} option)
    list(FIND FEATURES "${feature}" index)
    if(index GREATER -1)
      list(APPEND options "-D${option}=ON")
    else()
      list(APPEND options "-D${option}=OFF")
    endif()
  endforeach()
  set(${arg_OUT_FEATURE_OPTIONS} ${options} PARENT_SCOPE)
endfunction()

function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${arg_SOURCE_PATH} -B ${CURRENT_BUILDTREES_DIR}/rel
                          -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}
                          ${arg_OPTIONS}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "vcpkg_cmake_configure failed")
  endif()
endfunction()

function(vcpkg_cmake_install)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${CURRENT_BUILDTREES_DIR}/rel --target install
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "vcpkg_cmake_install failed")
  endif()
endfunction()

# vcpkg moves a package's CMake files to share/<port> and rewrites the relative prefix computation.
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "CONFIG_PATH" "")
  set(from ${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH})
  set(to ${CURRENT_PACKAGES_DIR}/share/${PORT})
  file(GLOB files ${from}/*.cmake)
  file(MAKE_DIRECTORY ${to})
  foreach(f IN LISTS files)
    get_filename_component(name ${f} NAME)
    file(READ ${f} content)
    # share/cmake/ecgssl is three levels below the prefix, share/ecgssl two: drop one step up.
    string(REPLACE "get_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)"
                   "get_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)\nget_filename_component(_IMPORT_PREFIX \"\${_IMPORT_PREFIX}\" PATH)"
                   content "${content}")
    string(REPLACE "/../../../" "/../../" content "${content}")
    file(WRITE ${to}/${name} "${content}")
  endforeach()
  file(REMOVE_RECURSE ${CURRENT_PACKAGES_DIR}/share/cmake)
endfunction()

function(vcpkg_fixup_pkgconfig)
  file(GLOB pcs ${CURRENT_PACKAGES_DIR}/share/pkgconfig/*.pc)
  foreach(pc IN LISTS pcs)
    file(READ ${pc} content)
    string(REGEX REPLACE "prefix=[^\n]*" "prefix=\${pcfiledir}/../.." content "${content}")
    file(WRITE ${pc} "${content}")
  endforeach()
endfunction()

function(vcpkg_install_copyright)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "" "FILE_LIST")
  file(MAKE_DIRECTORY ${CURRENT_PACKAGES_DIR}/share/${PORT})
  file(COPY_FILE ${arg_FILE_LIST} ${CURRENT_PACKAGES_DIR}/share/${PORT}/copyright)
endfunction()

include(${PORTFILE})
