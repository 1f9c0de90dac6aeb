; pixup's Windows installer (NSIS 3). build/build.py --target windows compiles it with:
;   makensis -DVERSION=X.Y.Z -DSOURCE=build\out\windows\pixup -DOUTFILE=...\pixup-X.Y.Z-setup.exe
;            [-DWEBVIEW2_BOOTSTRAPPER=MicrosoftEdgeWebview2Setup.exe] build\windows\pixup.nsi
; Per-user install (no administrator prompt), Start menu shortcut, "Open with" for image types,
; an uninstaller that removes everything it installed and leaves the user's own data alone.
; The window needs Microsoft's WebView2 runtime (present on current Windows 10/11): when the release
; workflow passes the Evergreen bootstrapper, the installer runs it if the runtime is missing.

Unicode true
!include "MUI2.nsh"
!include "LogicLib.nsh"

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef SOURCE
  !error "pass -DSOURCE=<the standalone folder built by build/build.py>"
!endif
!ifndef OUTFILE
  !define OUTFILE "pixup-${VERSION}-setup.exe"
!endif
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\pixup"
!define WEBVIEW2_KEY "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "pixup ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\pixup"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel user
SetCompressor /SOLID lzma

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\pixup.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "pixup" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File /r "${SOURCE}\*"

!ifdef WEBVIEW2_BOOTSTRAPPER
  ReadRegStr $0 HKLM "${WEBVIEW2_KEY}" "pv"
  ${If} $0 == ""
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${EndIf}
  ${If} $0 == ""
    InitPluginsDir
    File "/oname=$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" "${WEBVIEW2_BOOTSTRAPPER}"
    DetailPrint "Installing the Microsoft Edge WebView2 runtime..."
    ExecWait '"$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" /silent /install'
  ${EndIf}
!endif

  CreateShortcut "$SMPROGRAMS\pixup.lnk" "$INSTDIR\pixup.exe"
  ; "Open with pixup" for the image types it reads.
  WriteRegStr HKCU "Software\Classes\Applications\pixup.exe\shell\open\command" "" '"$INSTDIR\pixup.exe" "%1"'
  WriteRegStr HKCU "Software\Classes\Applications\pixup.exe" "FriendlyAppName" "pixup"
  !macro OPEN_WITH EXT
    WriteRegStr HKCU "Software\Classes\${EXT}\OpenWithList\pixup.exe" "" ""
    WriteRegStr HKCU "Software\Classes\Applications\pixup.exe\SupportedTypes" "${EXT}" ""
  !macroend
  !insertmacro OPEN_WITH ".png"
  !insertmacro OPEN_WITH ".jpg"
  !insertmacro OPEN_WITH ".jpeg"
  !insertmacro OPEN_WITH ".webp"
  !insertmacro OPEN_WITH ".tif"
  !insertmacro OPEN_WITH ".tiff"
  !insertmacro OPEN_WITH ".bmp"
  !insertmacro OPEN_WITH ".gif"
  !insertmacro OPEN_WITH ".avif"
  !insertmacro OPEN_WITH ".heic"

  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "pixup"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "pixup developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\pixup.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  ; Only what the installer wrote: models, settings and caches under the user's AppData stay.
  RMDir /r "$INSTDIR"
  Delete "$SMPROGRAMS\pixup.lnk"
  DeleteRegKey HKCU "Software\Classes\Applications\pixup.exe"
  !macro UNDO_OPEN_WITH EXT
    DeleteRegKey HKCU "Software\Classes\${EXT}\OpenWithList\pixup.exe"
  !macroend
  !insertmacro UNDO_OPEN_WITH ".png"
  !insertmacro UNDO_OPEN_WITH ".jpg"
  !insertmacro UNDO_OPEN_WITH ".jpeg"
  !insertmacro UNDO_OPEN_WITH ".webp"
  !insertmacro UNDO_OPEN_WITH ".tif"
  !insertmacro UNDO_OPEN_WITH ".tiff"
  !insertmacro UNDO_OPEN_WITH ".bmp"
  !insertmacro UNDO_OPEN_WITH ".gif"
  !insertmacro UNDO_OPEN_WITH ".avif"
  !insertmacro UNDO_OPEN_WITH ".heic"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
