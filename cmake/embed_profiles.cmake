# Writes OUT: every sources/modbus/profiles/*.ini as a C string in builtin_profiles[],
# so that the daemon needs no data files at run time. Run by the build
# whenever a profile changes (see CMakeLists.txt).
file(GLOB files "${SRC_DIR}/sources/modbus/profiles/*.ini")
list(SORT files)
set(body "")
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME_WE)
  file(READ "${f}" text)
  string(REPLACE "\\" "\\\\" text "${text}")
  string(REPLACE "\"" "\\\"" text "${text}")
  string(REPLACE "\n" "\\n\"\n     \"" text "${text}")
  string(APPEND body "    {\"${name}\", \"sources/modbus/profiles/${name}.ini\",\n     \"${text}\"},\n")
endforeach()
list(LENGTH files count)
file(WRITE "${OUT}.tmp"
  "/* Generated from the files in sources/modbus/profiles by cmake/embed_profiles.cmake: edit those. */\n"
  "#include \"config/config.h\"\n\n"
  "const struct builtin_profile builtin_profiles[] = {\n${body}    {NULL, NULL, NULL}};\n"
  "const size_t builtin_profile_count = ${count};\n")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY) # rewrites only on change
