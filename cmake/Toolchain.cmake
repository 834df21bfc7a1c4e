# Compiler settings shared by every target: warnings, sanitizer build type, ccache.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

add_compile_options(-Wall -Wextra)
if(ENARX_WERROR)
  add_compile_options(-Werror)
endif()

# "Asan" build type: AddressSanitizer + UndefinedBehaviorSanitizer, aborting on the first report.
set(_san_flags "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer")
set(CMAKE_CXX_FLAGS_ASAN "-O1 -g ${_san_flags}" CACHE STRING "" FORCE)
set(CMAKE_C_FLAGS_ASAN "-O1 -g ${_san_flags}" CACHE STRING "" FORCE)
set(CMAKE_EXE_LINKER_FLAGS_ASAN "${_san_flags}" CACHE STRING "" FORCE)
set(CMAKE_SHARED_LINKER_FLAGS_ASAN "${_san_flags}" CACHE STRING "" FORCE)
string(TOUPPER "${CMAKE_BUILD_TYPE}" ENARX_BUILD_TYPE_UPPER)
if(ENARX_BUILD_TYPE_UPPER STREQUAL "ASAN")
  set(ENARX_SANITIZED ON)
  add_compile_definitions(ENARX_SANITIZED=1)
endif()

# Executables keep the symbols of the static libraries they are made of to themselves. Otherwise
# an inline libstdc++ function our code instantiates (std::shared_ptr's release path) is exported
# from the executable and interposes on libnode's own copy: libnode (built without RTTI) then
# runs our instrumented copy, whose UBSan vptr check rejects libnode's objects (EngineTest,
# LimitMemory and CodeCache aborted under Asan in a CI run). Nothing resolves
# symbols from an executable: the V8 plugin needs only libnode, libstdc++ and libc.
# GCC only, and not for fuzzing: clang links its sanitizer and libFuzzer runtimes as static
# archives whose malloc/free interceptors must stay exported (hidden, libstdc++ would free with
# glibc what ASan allocated); the fuzz build switches the vptr check off instead (below).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT ENARX_BUILD_FUZZ)
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -Wl,--exclude-libs,ALL")
endif()

# Fuzz builds instrument every library for coverage; the targets themselves add -fsanitize=fuzzer.
# No `vptr` check: libnode is built without RTTI, and its static initialisers call inline
# std::shared_ptr code that resolves to our instrumented copies, which then flag every libnode
# object as having an "invalid vptr" before main() runs.
if(ENARX_BUILD_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr)
  add_link_options(-fsanitize=address,undefined)
endif()
