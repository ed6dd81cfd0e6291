// Pure helpers: pack modules may import each other with relative paths, and nothing else.
export function slugify(text, maxLength) {
  const slug = String(text)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug.slice(0, maxLength).replace(/-+$/, '');
}

export const words = (text) => String(text).split(/\s+/).filter(Boolean).length;
