# Write a pkg-config file from the prefix an install really uses.
#   At install time (CMakeLists.txt, install(CODE)): IN, LIBDIR, INCLUDEDIR,
#   VERSION, DESCRIPTION set; PREFIX defaults to CMAKE_INSTALL_PREFIX (what
#   `cmake --install --prefix` sets) and the file goes to
#   $DESTDIR<prefix>/<libdir>/pkgconfig, recorded in install_manifest.txt.
#   Standalone (the packaging.pc_dirs test): cmake -DIN=.. -DOUT=..
#   -DPREFIX=/usr -DLIBDIR=lib/x86_64-linux-gnu -DINCLUDEDIR=include
#   -DVERSION=.. -P cuprum-pc.cmake
# Directories relative to the prefix (GNUInstallDirs' usual form) are
# written as ${prefix}/dir, absolute ones as they are, so the file names
# the real directories for /usr with a multiarch libdir as for /usr/local.
if(NOT DEFINED PREFIX)
  set(PREFIX "${CMAKE_INSTALL_PREFIX}")
endif()
foreach(v IN ITEMS IN PREFIX LIBDIR INCLUDEDIR VERSION)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "cuprum-pc.cmake: ${v} missing")
  endif()
endforeach()
foreach(d IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${${d}}")
    set(PC_${d} "${${d}}")
  else()
    set(PC_${d} "\${prefix}/${${d}}")
  endif()
endforeach()
get_filename_component(pc_name "${IN}" NAME_WE)
if(NOT DEFINED OUT)
  if(IS_ABSOLUTE "${LIBDIR}")
    set(OUT "$ENV{DESTDIR}${LIBDIR}/pkgconfig/${pc_name}.pc")
  else()
    set(OUT "$ENV{DESTDIR}${PREFIX}/${LIBDIR}/pkgconfig/${pc_name}.pc")
  endif()
  message(STATUS "Installing: ${OUT}")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${OUT}")
endif()
configure_file("${IN}" "${OUT}" @ONLY)
