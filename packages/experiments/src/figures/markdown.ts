/**
 * A small Markdown → HTML renderer for the Markdown plora writes itself (headings, paragraphs,
 * pipe tables, bullet lists, `code`, **bold**, [links](…), images). Not a general Markdown
 * implementation; everything is HTML-escaped first.
 */

/** HTML-escapes text. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function inline(s: string, linkBase: string): string {
  const parts = s.split(/(`[^`]*`)/)
  return parts
    .map((p) => {
      if (p.startsWith('`') && p.endsWith('`') && p.length >= 2) return `<code>${escapeHtml(p.slice(1, -1))}</code>`
      let h = escapeHtml(p)
      // images become links: the report inlines figures itself
      h = h.replace(
        /!\[([^\]]*)\]\(([^)\s]+)\)/g,
        (_m, t: string, u: string) => `<a href="${rel(u, linkBase)}">${t || u}</a>`,
      )
      h = h.replace(
        /\[([^\]]+)\]\(([^)\s]+)\)/g,
        (_m, t: string, u: string) => `<a href="${rel(u, linkBase)}">${t}</a>`,
      )
      h = h.replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
      return h
    })
    .join('')
}

function rel(u: string, base: string): string {
  if (/^[a-z]+:/i.test(u) || u.startsWith('#') || u.startsWith('/') || base === '') return u
  return `${base.replace(/\/$/, '')}/${u}`
}

function cells(line: string): string[] {
  let t = line.trim()
  if (t.startsWith('|')) t = t.slice(1)
  if (t.endsWith('|')) t = t.slice(0, -1)
  return t.split('|').map((c) => c.trim())
}

/**
 * Markdown → HTML. `headingShift` demotes headings (1 → `<h3>` with shift 2); `linkBase` prefixes
 * relative links (the Markdown file's folder relative to the page).
 */
export function markdownToHtml(md: string, options: { headingShift?: number; linkBase?: string } = {}): string {
  const shift = options.headingShift ?? 0
  const base = options.linkBase ?? ''
  const lines = md.split('\n')
  const out: string[] = []
  let para: string[] = []
  const flush = () => {
    if (para.length > 0) out.push(`<p>${inline(para.join(' '), base)}</p>`)
    para = []
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const h = /^(#{1,6})\s+(.*)$/.exec(line)
    if (h) {
      flush()
      const level = Math.min(6, h[1]!.length + shift)
      out.push(`<h${level}>${inline(h[2]!, base)}</h${level}>`)
      continue
    }
    if (line.trim().startsWith('|') && i + 1 < lines.length && /^\s*\|?\s*:?-+/.test(lines[i + 1]!)) {
      flush()
      const head = cells(line)
      i++
      const rows: string[][] = []
      while (i + 1 < lines.length && lines[i + 1]!.trim().startsWith('|')) rows.push(cells(lines[++i]!))
      out.push(
        '<table>',
        `<thead><tr>${head.map((c) => `<th>${inline(c, base)}</th>`).join('')}</tr></thead>`,
        `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c, base)}</td>`).join('')}</tr>`).join('')}</tbody>`,
        '</table>',
      )
      continue
    }
    if (/^\s*[-*]\s+/.test(line)) {
      flush()
      const items: string[] = []
      i--
      while (i + 1 < lines.length && /^\s*[-*]\s+/.test(lines[i + 1]!))
        items.push(lines[++i]!.replace(/^\s*[-*]\s+/, ''))
      out.push(`<ul>${items.map((x) => `<li>${inline(x, base)}</li>`).join('')}</ul>`)
      continue
    }
    if (line.trim() === '') flush()
    else para.push(line.trim())
  }
  flush()
  return out.join('\n')
}
