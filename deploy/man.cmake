# Writes a man page from a program's --help, so that the two cannot drift:
#   cmake -DPROGRAM=path -DNAME=lifeline-gateway -DSUMMARY="..." -DVERSION=0.1.0 -DOUT=x.1 -P man.cmake
execute_process(COMMAND ${PROGRAM} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --help failed (${rc})")
endif()
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
string(TOUPPER "${NAME}" upper)
file(WRITE ${OUT} ".TH ${upper} 1 \"\" \"lifeline ${VERSION}\" \"lifeline\"\n"
                  ".SH NAME\n${NAME} \\- ${SUMMARY}\n"
                  ".SH DESCRIPTION\nThe text of \\fB${NAME} \\-\\-help\\fR:\n.PP\n.nf\n${help}.fi\n"
                  ".SH SEE ALSO\nThe lifeline README, PROTOCOL.md (the wire protocol and command line), DESIGN.md and GLOSSARY.md, in /usr/share/doc/lifeline.\n")
