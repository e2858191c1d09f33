/**
 * The settings panel: system prompt and sampling controls, kept in localStorage, turned into
 * the fields of a chat completion request.
 */

const STORAGE = 'mlx-native:settings';

/** Each control's request field, default, and the value at which it is left out of the request. */
const FIELDS = [
  { name: 'temperature', value: 0.7 },
  { name: 'top_p', value: 1, omit: 1 },
  { name: 'top_k', value: 0, omit: 0 },
  { name: 'min_p', value: 0, omit: 0 },
  { name: 'repetition_penalty', value: 1, omit: 1 },
  { name: 'max_tokens', value: 512 },
  { name: 'seed', value: '', omit: '' },
];

export class Settings {
  #form;

  /** `form` holds a textarea[name=system] and an input per field (a range may mirror a number). */
  constructor(form) {
    this.#form = form;
    let saved = {};
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE) ?? '{}') ?? {};
    } catch {
      saved = {};
    }
    form.elements.system.value = saved.system ?? '';
    for (const f of FIELDS) this.#write(f.name, saved[f.name] ?? f.value);
    form.addEventListener('input', (e) => {
      const name = e.target.name;
      if (name && FIELDS.some((f) => f.name === name)) this.#write(name, e.target.value, e.target);
      this.#save();
    });
    form.querySelector('[data-action="reset"]')?.addEventListener('click', () => {
      for (const f of FIELDS) this.#write(f.name, f.value);
      this.#save();
    });
  }

  get systemPrompt() {
    return this.#form.elements.system.value.trim();
  }

  /** The sampling fields of a request; defaults that change nothing are left out. */
  params() {
    const out = {};
    for (const f of FIELDS) {
      const raw = this.#inputs(f.name)[0]?.value ?? '';
      if (raw === '' || Number(raw) === f.omit || raw === f.omit) continue;
      out[f.name] = Number(raw);
    }
    return out;
  }

  #inputs(name) {
    return [...this.#form.querySelectorAll(`[name="${name}"]`)];
  }

  #write(name, value, except) {
    for (const input of this.#inputs(name)) if (input !== except) input.value = String(value);
    const shown = this.#form.querySelector(`output[for="${name}"]`);
    if (shown) shown.textContent = String(value);
  }

  #save() {
    const data = { system: this.#form.elements.system.value };
    for (const f of FIELDS) data[f.name] = this.#inputs(f.name)[0]?.value ?? f.value;
    localStorage.setItem(STORAGE, JSON.stringify(data));
  }
}
