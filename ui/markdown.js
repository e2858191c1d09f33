/**
 * A small Markdown renderer for model answers: fenced code blocks, headings, lists, quotes,
 * tables, rules, paragraphs, and inline code, emphasis, strikethrough and links.
 *
 * Safe by construction: every piece of source text is HTML-escaped before it is wrapped in
 * the few tags this file writes, and links are kept only for http(s) and mailto URLs. It has
 * no DOM dependency, so it renders the same in the page and in Node (the tests).
 *
 * @example
 * element.innerHTML = renderMarkdown('Use `npm test`:\n\n```sh\nnpm test\n```');
 */

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attributes. */
export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

/** Renders Markdown source to an HTML string. An unterminated code fence (mid-stream) still renders as code. */
export function renderMarkdown(source) {
  return renderBlocks(String(source).replace(/\r\n?/g, '\n').split('\n'));
}

function renderBlocks(lines) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const code = [];
      i++;
      while (i < lines.length && !isClosingFence(lines[i], marker)) code.push(lines[i++]);
      i++; // the closing fence, or past the end
      out.push(codeBlock(fence[2], code.join('\n')));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push('<hr>');
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) quoted.push(QUOTE.exec(lines[i++])[1]);
      out.push(`<blockquote>${renderBlocks(quoted)}</blockquote>`);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const rows = [line];
      i += 2;
      while (i < lines.length && lines[i].includes('|') && !/^\s*$/.test(lines[i])) rows.push(lines[i++]);
      out.push(table(rows));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = list(lines, i, out);
      continue;
    }
    const paragraph = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !startsBlock(lines[i])) paragraph.push(lines[i++].trim());
    if (paragraph.length === 0) paragraph.push(lines[i++].trim());
    out.push(`<p>${paragraph.map(inline).join('<br>')}</p>`);
  }
  return out.join('');
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || LIST_ITEM.test(line);
}

function isClosingFence(line, marker) {
  const m = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return m !== null && m[1][0] === marker[0] && m[1].length >= marker.length;
}

function codeBlock(lang, code) {
  const label = lang ? `<span class="code-lang">${escapeHtml(lang)}</span>` : '<span class="code-lang">text</span>';
  const cls = lang ? ` class="language-${escapeHtml(lang)}"` : '';
  return `<div class="code-block"><div class="code-head">${label}<button type="button" class="copy-code">Copy</button></div><pre><code${cls}>${escapeHtml(code)}</code></pre></div>`;
}

/** A list starting at lines[start]; items of deeper indentation nest. Returns the next line index. */
function list(lines, start, out) {
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const items = [];
  let i = start;
  while (i < lines.length) {
    const m = LIST_ITEM.exec(lines[i]);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([m[3]]);
      i++;
      continue;
    }
    const blank = /^\s*$/.test(lines[i]);
    const continues = !blank && (lines[i].length - lines[i].trimStart().length > indent || (!m && !startsBlock(lines[i])));
    // A blank line continues the list only when the next line is indented under it or is another item.
    const next = lines[i + 1];
    const nextItem = next !== undefined ? LIST_ITEM.exec(next) : null;
    const blankInside = blank && next !== undefined && (next.length - next.trimStart().length > indent || (nextItem && nextItem[1].length === indent));
    if (!continues && !blankInside) break;
    if (items.length === 0) break;
    items[items.length - 1].push(blank ? '' : lines[i].slice(Math.min(indent + 2, lines[i].length - lines[i].trimStart().length)));
    i++;
  }
  const tag = ordered ? 'ol' : 'ul';
  const startAttr = ordered && parseInt(first[2], 10) !== 1 ? ` start="${parseInt(first[2], 10)}"` : '';
  const body = items.map((item) => {
    const rest = item.slice(1);
    if (rest.every((l) => /^\s*$/.test(l))) return `<li>${inline(item[0])}</li>`;
    const nestedStart = rest.findIndex((l) => startsBlock(l.trimStart()) || /^\s*$/.test(l));
    const lead = [item[0], ...(nestedStart === -1 ? rest : rest.slice(0, nestedStart))].map((l) => inline(l.trim())).join('<br>');
    const tail = nestedStart === -1 ? '' : renderBlocks(rest.slice(nestedStart).map((l) => l.replace(/^ {1,4}/, '')));
    return `<li>${lead}${tail}</li>`;
  });
  out.push(`<${tag}${startAttr}>${body.join('')}</${tag}>`);
  return i;
}

function splitRow(row) {
  return row.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
}

function table(rows) {
  const [head, ...body] = rows.map(splitRow);
  const th = head.map((c) => `<th>${inline(c)}</th>`).join('');
  const tr = body.map((r) => `<tr>${head.map((_, k) => `<td>${inline(r[k] ?? '')}</td>`).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table></div>`;
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

/**
 * Inline Markdown of one line. Code spans and links are cut out first and put back last, so
 * emphasis never reaches inside them.
 */
export function inline(text) {
  const held = [];
  const hold = (html) => `\uE000${held.push(html) - 1}\uE000`;
  let s = text.replace(/\uE000/g, '');
  s = s.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code) => hold(`<code>${escapeHtml(code.trim() || code)}</code>`));
  s = s.replace(/\[([^\]\n]+)\]\(\s*<?([^\s()<>]+)>?(?:\s+"[^"]*")?\s*\)/g, (whole, label, url) =>
    SAFE_URL.test(url)
      ? hold(`<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${emphasis(escapeHtml(label))}</a>`)
      : whole,
  );
  s = s.replace(/\bhttps?:\/\/[^\s<>()"'`]*[^\s<>()"'`.,;:!?]/g, (url) =>
    hold(`<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a>`),
  );
  s = emphasis(escapeHtml(s));
  return s.replace(/\uE000(\d+)\uE000/g, (_, n) => held[Number(n)]);
}

function emphasis(s) {
  return s
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^\w])__(?=\S)([\s\S]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/(^|[^*\w])\*(?=[^\s*])([^*]*?[^\s*])\*(?![*\w])/g, '$1<em>$2</em>')
    .replace(/(^|[^\w])_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
}
