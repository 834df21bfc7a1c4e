# Debian (and RPM) packages from the install() rules of apps/*/CMakeLists.txt, one package per
# install component: enarx, steward, drawbridge. Built by scripts/package.sh.
#
# Why CPack and not dpkg-buildpackage: the install() rules are already the one description of
# what goes where, CPack turns each component into a .deb (and, from the same rules, an .rpm)
# without a second, hand-kept file list in debian/*.install; it runs dpkg-shlibdeps on every ELF
# file (CPACK_DEBIAN_PACKAGE_SHLIBDEPS) so Depends: is computed, not hand-listed; and it reuses
# the normal CMake build directory and ccache. What dpkg-buildpackage would add (a source
# package, debhelper's generated maintainer scripts) is not needed for binary packages built
# from a checkout: the maintainer scripts are written by hand in deploy/packaging/<package>/.
set(_pkg "${PROJECT_SOURCE_DIR}/deploy/packaging")

# Version: the CMake project VERSION; the Debian revision is ENARX_PACKAGE_RELEASE (default 1).
# scripts/install-test.sh builds an older package by overriding CPACK_PACKAGE_VERSION.
set(ENARX_PACKAGE_RELEASE 1 CACHE STRING "Debian revision / RPM release of the packages")
set(CPACK_PACKAGE_NAME enarx)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "enarx-cpp")
set(CPACK_PACKAGE_CONTACT "enarx-cpp maintainers <maintainers@users.noreply.r-seed-57cf8d64.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Attested WebAssembly workloads in TEEs")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://enarx.dev")
set(CPACK_COMPONENTS_ALL enarx steward drawbridge)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY "${PROJECT_BINARY_DIR}/packages")
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)  # /etc and /lib/systemd are absolute on purpose

set(CPACK_COMPONENT_ENARX_DESCRIPTION "Enarx CLI and runtime: run, deploy and verify attested WebAssembly workloads
 The enarx command runs WebAssembly workloads (V8 through the engine plugin
 libenarx-v8.so, the only part linked against libnode108) with WASI, and
 deploys them from a drawbridge registry into a trusted execution environment
 (AMD SEV-SNP, Intel TDX, Intel SGX) after attestation to a steward.
 Includes enarx-cache-refresh.timer (not enabled by default), which keeps the
 AMD KDS and Intel PCS collateral caches in /var/cache/amd-sev and
 /var/cache/intel-sgx current.")
set(CPACK_COMPONENT_STEWARD_DESCRIPTION "Steward attestation server and certificate authority (Enarx)
 Steward verifies hardware evidence (AMD SEV-SNP, Intel SGX/TDX DCAP) sent with
 a certificate signing request and issues X.509 certificates carrying the
 attested claims, with a certificate index, CRL and OCSP.
 The systemd unit steward.service is installed but neither enabled nor started;
 edit /etc/steward/steward.toml first.")
set(CPACK_COMPONENT_DRAWBRIDGE_DESCRIPTION "Drawbridge workload registry (Enarx)
 Drawbridge stores users, repositories, signed immutable tags and
 content-addressed trees of WebAssembly packages (SQLite + files, or
 PostgreSQL), and gives attested keeps access by their steward certificates.
 The systemd unit drawbridge.service is installed but neither enabled nor
 started; edit /etc/drawbridge/drawbridge.toml first.")

# ---- Debian ------------------------------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${ENARX_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Depends: computed by dpkg-shlibdeps from every ELF file of each package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libnode108 unpacked by deps/get-libnode.sh (its nodejs is not Debian's): dpkg-shlibdeps finds
# the library there and reads libnode108's own shlibs file from <that copy>/DEBIAN, so the
# dependency is the one Debian's libnode108 declares, as it would be with the package installed.
if(LIBNODE_LIBDIR AND NOT LIBNODE_LIBDIR MATCHES "^/usr/")
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${LIBNODE_LIBDIR}")
endif()
# Added by hand, each for a reason dpkg-shlibdeps cannot see: libcurl is dlopen()ed on first use
# (src/net/curl_library.h), adduser is called by the maintainer scripts (system users), procps
# provides the kill of steward.service's ExecReload.
set(CPACK_DEBIAN_ENARX_PACKAGE_DEPENDS "libcurl4")
set(CPACK_DEBIAN_STEWARD_PACKAGE_DEPENDS "adduser, libcurl4, procps")  # procps: kill in ExecReload
set(CPACK_DEBIAN_DRAWBRIDGE_PACKAGE_DEPENDS "adduser, libcurl4")
set(CPACK_DEBIAN_STEWARD_PACKAGE_SUGGESTS "pkcs11-provider")
set(CPACK_DEBIAN_DRAWBRIDGE_PACKAGE_SUGGESTS "postgresql")
foreach(c enarx steward drawbridge)
  string(TOUPPER ${c} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${c})
  set(CPACK_DEBIAN_${C}_PACKAGE_SECTION net)
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA)
  foreach(script conffiles preinst postinst prerm postrm)
    if(EXISTS "${_pkg}/${c}/${script}")
      list(APPEND CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA "${_pkg}/${c}/${script}")
    endif()
  endforeach()
endforeach()

# /usr/share/doc/<package>/{copyright,changelog.Debian.gz} and the lintian overrides, per package.
# The changelog's date is the commit's (reproducible); its one entry names the commit.
execute_process(COMMAND git -C "${PROJECT_SOURCE_DIR}" log -1 --format=%ct OUTPUT_VARIABLE _epoch
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
execute_process(COMMAND git -C "${PROJECT_SOURCE_DIR}" log -1 --format=%h OUTPUT_VARIABLE _commit
                OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT _epoch)
  set(_epoch 0)
  set(_commit unknown)
endif()
execute_process(COMMAND date -u -R -d "@${_epoch}" OUTPUT_VARIABLE _date OUTPUT_STRIP_TRAILING_WHITESPACE)
foreach(c enarx steward drawbridge)
  set(_dir "${PROJECT_BINARY_DIR}/packaging/${c}")
  file(MAKE_DIRECTORY "${_dir}")
  file(WRITE "${_dir}/changelog.Debian"
"${c} (${PROJECT_VERSION}-${ENARX_PACKAGE_RELEASE}) unstable; urgency=medium

  * Binary package built from the enarx-cpp tree at commit ${_commit}.

 -- ${CPACK_PACKAGE_CONTACT}  ${_date}
")
  execute_process(COMMAND gzip -9nf "${_dir}/changelog.Debian")
  install(FILES "${_dir}/changelog.Debian.gz" "${_pkg}/copyright"
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${c} COMPONENT ${c})
  if(EXISTS "${_pkg}/${c}/lintian-overrides")
    install(FILES "${_pkg}/${c}/lintian-overrides" DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
            RENAME ${c} COMPONENT ${c})
  endif()
endforeach()

# Manual pages from each program's --help (help2man, a [package] dependency), dated by the commit.
# Only in packaging builds: help2man runs the programs, which a sanitizer build should not do as
# a side effect of building.
find_program(HELP2MAN help2man)
if(HELP2MAN AND ENARX_PACKAGING)
  set(_man_names
    "enarx:run, deploy and verify attested WebAssembly workloads"
    "steward:attestation server and certificate authority"
    "drawbridge:workload registry for attested WebAssembly packages")
  set(_man_outputs)
  foreach(entry ${_man_names})
    string(REGEX REPLACE ":.*" "" c "${entry}")
    string(REGEX REPLACE "^[^:]*:" "" what "${entry}")
    set(_man "${PROJECT_BINARY_DIR}/packaging/${c}/${c}.1.gz")
    add_custom_command(OUTPUT "${_man}"
      COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${_epoch}
              ${HELP2MAN} --no-info --no-discard-stderr --name "${what}" --output "${PROJECT_BINARY_DIR}/packaging/${c}/${c}.1" $<TARGET_FILE:${c}>
      COMMAND gzip -9nf "${PROJECT_BINARY_DIR}/packaging/${c}/${c}.1"
      DEPENDS ${c}
      COMMENT "help2man: ${c}.1")
    list(APPEND _man_outputs "${_man}")
    install(FILES "${_man}" DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${c})
  endforeach()
  add_custom_target(manpages ALL DEPENDS ${_man_outputs})
elseif(ENARX_PACKAGING)
  message(FATAL_ERROR "help2man not found (deps/install.sh --package): packages ship a manual page per program")
endif()

# ---- RPM (built, not usable on RPM distributions: README "Packages, images, manifests") ---
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE "${ENARX_PACKAGE_RELEASE}")
set(CPACK_RPM_PACKAGE_LICENSE "Proprietary")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)      # Requires: from the ELF files' sonames (rpmbuild)
foreach(c enarx steward drawbridge)
  string(TOUPPER ${c} C)
  set(CPACK_RPM_${C}_PACKAGE_NAME ${c})
  set(CPACK_RPM_${C}_PACKAGE_SUMMARY "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}: ${c}")
endforeach()
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION /lib /lib/systemd /lib/systemd/system /etc/steward /etc/drawbridge
    /usr/share/lintian /usr/share/lintian/overrides /usr/share/man /usr/share/man/man1)

include(CPack)
