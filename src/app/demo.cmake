# `pgwarden demo`: embeds demo_schema.sql into the binary.
#
# Included from src/app/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/demo.cmake)
#   pgw_add_demo(pgwarden)
# pgw_add_demo(<target>) adds demo.cc, demo_config.cc, demo_process.cc and demo_pointer.cc (the
# running demo's config path, read by `token mint --demo`) to <target> with the generated
# header <build>/src/app/generated/app/demo_schema_sql.h (a C++ raw string
# `pgw::app::kDemoSchemaSql`), regenerated whenever demo_schema.sql changes.
#
# The same file runs in script mode to write that header:
#   cmake -DPGW_DEMO_SQL=<in.sql> -DPGW_DEMO_HEADER=<out.h> -P demo.cmake

if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${PGW_DEMO_SQL}" sql)
  set(delimiter "pgwsql")
  string(FIND "${sql}" ")${delimiter}\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${PGW_DEMO_SQL} contains the raw string delimiter )${delimiter}\"")
  endif()
  file(WRITE "${PGW_DEMO_HEADER}.tmp"
    "#pragma once\n"
    "/// Generated from src/app/demo_schema.sql by src/app/demo.cmake; do not edit.\n\n"
    "#include <string_view>\n\n"
    "namespace pgw::app {\n\n"
    "/// The sample schema `pgwarden demo` loads into its database.\n"
    "inline constexpr std::string_view kDemoSchemaSql = R\"${delimiter}(${sql})${delimiter}\";\n\n"
    "}  // namespace pgw::app\n")
  file(COPY_FILE "${PGW_DEMO_HEADER}.tmp" "${PGW_DEMO_HEADER}" ONLY_IF_DIFFERENT)
  file(REMOVE "${PGW_DEMO_HEADER}.tmp")
  return()
endif()

set(PGW_DEMO_DIR "${CMAKE_CURRENT_LIST_DIR}")
set(PGW_DEMO_CMAKE "${CMAKE_CURRENT_LIST_FILE}")

function(pgw_add_demo target)
  set(generated_dir "${CMAKE_CURRENT_BINARY_DIR}/generated")
  set(header "${generated_dir}/app/demo_schema_sql.h")
  add_custom_command(
    OUTPUT "${header}"
    COMMAND "${CMAKE_COMMAND}" "-DPGW_DEMO_SQL=${PGW_DEMO_DIR}/demo_schema.sql"
            "-DPGW_DEMO_HEADER=${header}" -P "${PGW_DEMO_CMAKE}"
    DEPENDS "${PGW_DEMO_DIR}/demo_schema.sql" "${PGW_DEMO_CMAKE}"
    COMMENT "Embedding demo_schema.sql"
    VERBATIM)
  target_sources(${target} PRIVATE "${PGW_DEMO_DIR}/demo.cc" "${PGW_DEMO_DIR}/demo_config.cc" "${PGW_DEMO_DIR}/demo_process.cc"
                                   "${PGW_DEMO_DIR}/demo_pointer.cc" "${header}")
  target_include_directories(${target} PRIVATE "${generated_dir}")
endfunction()
