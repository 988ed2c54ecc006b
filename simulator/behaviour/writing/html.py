"""Outlook-style HTML: the markup a reply written in Outlook carries, and name escaping.

Theory of operation: constants only. A written reply sent as HTML is a Word-generated
document (`HTML_HEAD`, its styles and list definitions) whose paragraphs are
`P ... EP`, whose bullets are an `UL` of `LI ... ELI` items, with a signature block and
the quoted original (`HTML_TAIL`). `simulator.behaviour.writing.template` says where
each goes. Phrases are plain ASCII without markup characters (checked when the grammar
is read), so only people's names need escaping, with `escape_name`.
"""

from __future__ import annotations

import html as html_lib

CRLF = "\r\n"
P = "<p class=MsoNormal>"
EP = "</p>" + CRLF
LI = "<li class=MsoListParagraph>"
ELI = ".</li>" + CRLF
UL, EUL = "<ul>" + CRLF, "</ul>" + CRLF
BR = "<br>" + CRLF
HTML_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
    'xmlns="http://www.w3.org/TR/REC-html40">'
    + CRLF
    + "<head>"
    + CRLF
    + '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    + CRLF
    + '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">'
    + CRLF
    + "<style><!--"
    + CRLF
    + "/* Font Definitions */"
    + CRLF
    + '@font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}'
    + CRLF
    + "@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}"
    + CRLF
    + "@font-face {font-family:Aptos; panose-1:2 11 0 4 2 2 2 2 2 4;}"
    + CRLF
    + "/* Style Definitions */"
    + CRLF
    + "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0in; font-size:12.0pt; "
    + 'font-family:"Aptos",sans-serif; mso-ligatures:standardcontextual;}'
    + CRLF
    + "p.MsoListParagraph, li.MsoListParagraph {margin-top:0in; margin-right:0in; "
    + "margin-bottom:0in; margin-left:.5in; font-size:12.0pt; "
    + 'font-family:"Aptos",sans-serif;}'
    + CRLF
    + "a:link, span.MsoHyperlink {mso-style-priority:99; color:#467886; "
    + "text-decoration:underline;}"
    + CRLF
    + 'span.EmailStyle19 {mso-style-type:personal-reply; font-family:"Aptos",sans-serif; '
    + "color:windowtext;}"
    + CRLF
    + ".MsoChpDefault {mso-style-type:export-only; font-size:10.0pt; "
    + "mso-ligatures:none;}"
    + CRLF
    + "@page WordSection1 {size:8.5in 11.0in; margin:1.0in 1.0in 1.0in 1.0in;}"
    + CRLF
    + "div.WordSection1 {page:WordSection1;}"
    + CRLF
    + "/* List Definitions */"
    + CRLF
    + "@list l0 {mso-list-id:1436095113; mso-list-type:hybrid;}"
    + CRLF
    + "@list l0:level1 {mso-level-number-format:bullet; mso-level-text:\\F0B7; "
    + "mso-level-tab-stop:none; mso-level-number-position:left; text-indent:-.25in; "
    + "font-family:Symbol;}"
    + CRLF
    + "ul {margin-bottom:0in;}"
    + CRLF
    + "--></style>"
    + CRLF
    + "</head>"
    + CRLF
    + '<body lang="EN-US" link="#467886" vlink="#96607D" style="word-wrap:break-word">'
    + CRLF
    + '<div class="WordSection1">'
    + CRLF
)
HTML_QUOTE = (
    '<div style="border:none; border-top:solid #E1E1E1 1.0pt; padding:3.0pt 0in 0in 0in">'
    + CRLF
    + P
    + "<b>From:</b> HR &lt;hr@opm.example&gt;"
    + BR
    + "<b>Subject:</b> What did you do last week?"
    + BR
    + "<b>Importance:</b> High"
    + EP
    + "</div>"
    + CRLF
    + P
    + "Please reply to this email with approximately 5 bullets of what "
    + "you accomplished last week and cc your manager."
    + EP
    + P
    + "Please do not send any classified information, links, or attachments."
    + EP
    + P
    + "Deadline is this Monday at 11:59pm EST."
    + EP
)
HTML_TAIL = HTML_QUOTE + "</div>" + CRLF + "</body>" + CRLF + "</html>" + CRLF
SIG_OPEN = BR + "<b>"
SIG_NAME_END = "</b>" + BR
SIG_TAIL = (
    '<span style="font-size:9.0pt; color:#595959">This e-mail may contain information '
    "that is privileged or otherwise protected from disclosure.</span>"
)


def escape_name(name: str) -> str:
    """A person's name as HTML text: & < > as entities (quotes stay as they are)."""
    return html_lib.escape(name, quote=False)
