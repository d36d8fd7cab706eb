// Package vt is a small, fast, headless VT/xterm emulator. It keeps the
// screen state of a session so the server can hand any client a repaint: a
// byte sequence that, written to a freshly reset xterm-compatible terminal
// (xterm.js, or a real terminal over SSH) of the same size, reproduces the
// current screen, cursor, modes and title.
//
// It exists because general-purpose Go emulators process 1-10 MB/s while a
// PTY delivers 70-90 MB/s, and it runs inside the single goroutine that
// reads a session's PTY. Write never blocks, never fails, never allocates in
// steady state and never replies to queries.
//
// # Supported
//
//   - UTF-8 (invalid bytes become U+FFFD; sequences and escapes may be split
//     across writes at any byte), wide characters (East Asian wide and emoji
//     take two cells, ambiguous width is narrow; overwriting either half
//     clears the other), combining marks attached to the previous cell.
//   - C0: BS, HT, LF/VT/FF, CR, SO/SI, CAN/SUB (abort), BEL (ignored).
//   - ESC: 7 8 (DECSC/DECRC), D E M (IND/NEL/RI), H (HTS), c (RIS), = >
//     (keypad), ( 0 / ( B / ) 0 / ) B (DEC special graphics, stored as
//     Unicode box drawing as tmux does), # 8 (DECALN).
//   - CSI: ICH CUU CUD CUF CUB CNL CPL CHA CUP CHT ED EL IL DL DCH SU SD ECH
//     CBT HPA HPR REP VPA VPR HVP TBC SM RM SGR DECSTBM SCOSC SCORC,
//     DECSET/DECRST, DECSCUSR (CSI Ps SP q), DECSTR (CSI ! p), DECSED and
//     DECSEL treated as ED and EL.
//   - SGR: bold, faint, italic, underline including 4:0-4:5 styles and 21,
//     blink, inverse, invisible, strike, overline, 16/256/RGB colours in
//     both the semicolon and the colon (38:2::r:g:b) forms.
//   - DEC modes 1, 3 (DECCOLM, see below), 5, 6, 7, 12, 25, 40, 45, 47, 66,
//     1047, 1048, 1049, mouse
//     9/1000/1001/1002/1003, mouse encodings 1005/1006/1015/1016, 1004, 1007,
//     2004; ANSI modes 4 (IRM) and 20 (LNM).
//   - OSC 0 and 2 (title). Other OSCs (8 hyperlinks, 52 clipboard, colour
//     queries...), DCS, SOS, PM and APC strings are consumed and ignored, as
//     are all queries (DA, DSR/CPR, DECRQM, XTVERSION, XTGETTCAP...).
//   - Scrollback on the primary screen: lines leaving the top of a region
//     that starts at row 0 through a line feed, as in xterm.
//   - Soft wraps: a row left by an autowrap is marked as continued by the
//     next one (on the screen and in scrollback), so the repaint hands the
//     client one logical line that its selection and reflow treat as one.
//     As in tmux, erasing a whole row, or inserting or deleting lines at
//     it, ends the logical line above it.
//   - Resize without reflow, as xterm with reflow off: rows are truncated or
//     padded, lines above the cursor go to scrollback when the screen gets
//     shorter, margins are reset and the cursor is clamped.
//
// # Deliberately not supported
//
// Where terminals disagree, xterm's documented behaviour (ctlseqs) decides.
// These are the cases where tmux, given the same bytes (vttest's screens
// among them; sessions/vttest_test.go compares them all), shows something
// else, and what codeterm does:
//
//   - DECCOLM (CSI ?3h/l) never changes the width: the clients' windows set
//     it. As in xterm it acts only once mode 40 allows it (xterm's default
//     is not to), then resets the margins, erases the screen and homes the
//     cursor. tmux erases without mode 40; xterm.js ignores DECCOLM.
//   - A cursor movement back (CUB) while a wrap is pending at the right
//     margin starts from the last column, as in xterm and xterm.js; tmux
//     starts one column past it (vttest's 132-column screens drawn on 80).
//   - Origin mode: DECSTBM homes the cursor to the top of the new region,
//     as in xterm and the VT100; tmux homes it to the top of the screen
//     (vttest's origin mode screens). CUP, HVP and VPA count from the top
//     margin and stay inside the region; DECSC/DECRC keep the mode.
//   - Scrollback receives the lines that scroll off the top of the screen
//     through a region starting at the top row, as in xterm; tmux also
//     keeps the top line of any other scroll region.
//   - Character sets: ASCII and DEC special graphics in G0 and G1 (SO/SI),
//     like tmux and xterm.js. The UK, DEC supplemental and national sets,
//     G2/G3 and the single and locking shifts beyond SO/SI show as ASCII.
//   - LNM (ANSI mode 20) is emulated and repainted; tmux ignores it.
//
// Also not emulated: left/right margins (DECLRMM/DECSLRM),
// double-width/height lines, rectangular-area operations, selective-erase
// protection, palette and dynamic colours (OSC 4/10/11), underline colour
// (SGR 58 is parsed only to skip its arguments), hyperlinks, the kitty
// keyboard protocol, the title stack, synchronized output (2026), sixel and
// other graphics, and reflow. Grapheme clusters are a base character plus
// zero-width marks; a ZWJ sequence shows as its parts. A terminal remembers
// up to 4096 distinct clusters; later new ones lose their marks. Widths come
// from go-runewidth's tables (gen_width.go generates width_table.go); a
// client using other tables may place a line's characters differently, but
// every logical line of a repaint starts with absolute positioning, so the
// damage stays within that line.
//
// # Repaint
//
// AppendRepaint does not use RIS, which would also reset client-side state
// such as the palette or keyboard settings. It starts with
//
//	CSI ?25l  CSI ?7h  CSI ?1049l  CSI 0m  CSI r  CSI 4;20l  CSI ?6l  ESC ( B  ESC ) B  SI  CSI H  CSI 2J
//
// (cursor hidden while drawing, autowrap on, primary screen, default pen,
// no margins, replace mode, absolute origin, ASCII, cleared screen), then
// writes the requested scrollback lines as a stream that scrolls them into
// the client's own scrollback, paints every row with CUP and EL (a soft
// wrapped row is written up to the margin and continued by the next one, as
// tmux redraws a pane, so the client wraps it itself), enters the alternate
// screen and paints it if it is active, and restores saved cursors, tab
// stops, modes, title, cursor style, margins, origin mode, the cursor (a
// pending autowrap is recreated by rewriting the last cell), the pen,
// charsets, insert/newline modes and cursor visibility. It leaves the
// client's existing scrollback alone; prepend "\x1b[3J" to clear it.
//
// Every mode is set or reset by a sequence of its own, in the form xterm,
// tmux and xterm.js all accept: tmux drops a control sequence longer than 63
// parameter bytes, and knows the keypad only as DECKPAM/DECKPNM (ESC = and
// ESC >), not DECNKM. What the repaint sends, and who takes it (checked
// against xterm's ctlseqs, tmux's input.c and xterm.js's InputHandler):
//
//	all three   CSI ?1 (cursor keys), ?6, ?7, ?12, ?25, ?47/?1047/?1049,
//	            ?1000/?1002/?1003, ?1004, ?1006, ?2004, CSI 4 h/l,
//	            ESC = / ESC >, ESC 7, ESC ( 0 / ESC ) 0, SO/SI, DECSTBM,
//	            DECSCUSR, OSC 2, CSI 3 g and ESC H, SGR (semicolon forms,
//	            4:n for underline styles)
//	not tmux    CSI ?5, ?9, ?40, ?45, ?1001, ?1007, ?1015, ?1016, CSI 20 h
//	not xterm.js CSI ?5, ?40, ?1001, ?1005, ?1007, ?1015 (?12 only if
//	            its allowSetCursorBlink quirk is on)
//
// There is no other form of those, so a client that ignores one shows the
// same as it did for the program's own output.
//
// # Performance
//
// Measured 2026-11-21 on a shared 2-core "Intel(R) Xeon(R) Processor" VM,
// Go 1.26, 120x40 terminal with 10000 lines of scrollback, 32 KiB writes
// (go test -bench . ./sessions/vt/):
//
//	BenchmarkWriteTypical   ~350 MB/s  0 allocs  (lines of 0-160 chars, 20% coloured, CRLF)
//	BenchmarkWriteASCII     ~470 MB/s  0 allocs
//	BenchmarkWriteUTF8Wide  ~205 MB/s  0 allocs  (CJK, Hangul, kana, emoji)
//	BenchmarkRepaint200x60  ~110 µs per repaint, 0 allocs (colour change every 8 cells, 44 KB)
//	idle 120x40 terminal    ~66 KB of heap (cells are 12 bytes, scrollback allocated on use)
//
// Cells pack rune, flags and style into 12 bytes so a style comparison is
// one 64-bit compare; screen rows live in one array and scroll by rotating
// row offsets; scrollback lines are trimmed of trailing blanks and packed
// into recycled 4096-cell blocks.
package vt
