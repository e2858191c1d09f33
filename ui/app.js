/**
 * The playground page: wires the model picker, the composer, the settings and metrics
 * panels, the theme and the API key prompt together. Conversation state lives here.
 */
import { ApiError, AuthError, apiKey, listModels, streamChat } from './api.js';
import { ChatView } from './chat.js';
import { MetricsView } from './metrics.js';
import { Settings } from './settings.js';

const $ = (selector) => document.querySelector(selector);
const store = {
  get: (k) => localStorage.getItem(`mlx-native:${k}`),
  set: (k, v) => localStorage.setItem(`mlx-native:${k}`, v),
};

const chat = new ChatView($('#messages'));
const settings = new Settings($('#settings-form'));
const metrics = new MetricsView($('#metrics'));
const input = $('#input');
const picker = $('#model');

/** The conversation sent with each request (the system prompt is added when sending). */
let history = [];
/** The answer being generated: its view and the controller that stops it. */
let current;

// ---- API key ---------------------------------------------------------------------------

let keyPrompt;
/** Shows the key dialog (once, however many requests wait for it); resolves when a key is saved. */
function askForKey(message) {
  keyPrompt ??= new Promise((resolve, reject) => {
    const dialog = $('#key-dialog');
    const form = dialog.querySelector('form');
    $('#key-message').textContent = message;
    $('#key-input').value = apiKey.get();
    const done = (saved) => {
      dialog.close();
      keyPrompt = undefined;
      form.onsubmit = $('#key-cancel').onclick = dialog.onkeydown = null;
      if (saved) resolve();
      else reject(new ApiError('An API key is needed: the server answered 401', 401));
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      apiKey.set($('#key-input').value.trim());
      done(true);
    };
    $('#key-cancel').onclick = () => done(false);
    dialog.onkeydown = (e) => {
      if (e.key === 'Escape') done(false);
    };
    // Not showModal(): once a modal dialog had been open, Chromium (headless, at least) no
    // longer typed into the page's textarea. The stylesheet draws the backdrop instead.
    dialog.show();
    $('#key-input').focus();
  });
  return keyPrompt;
}

/** Runs `fn`; on a 401 asks for the key and runs it again. */
async function withKey(fn) {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      await askForKey(err.message);
    }
  }
}

// ---- models and status -----------------------------------------------------------------

let modelsRetry;
let modelsLoading;

/** Fills the picker from /v1/models; one load at a time, retried while the server loads. */
function loadModels() {
  modelsLoading ??= fillPicker().finally(() => (modelsLoading = undefined));
  return modelsLoading;
}

async function fillPicker() {
  clearTimeout(modelsRetry);
  try {
    const models = await withKey(listModels);
    const wanted = picker.value || store.get('model');
    const signature = JSON.stringify(models);
    // Rebuilding the options would close the list the user just opened.
    if (picker.dataset.signature !== signature) {
      picker.dataset.signature = signature;
      const options = models.map((m) => {
        const ready = !m.state || ['ready', 'loaded'].includes(m.state);
        return new Option(ready ? m.id : `${m.id} (${m.state})`, m.id);
      });
      picker.replaceChildren(...options);
    }
    if (models.some((m) => m.id === wanted)) picker.value = wanted;
    setStatus('ready', models.length > 1 ? `${models.length} models` : 'ready');
  } catch (err) {
    setStatus(err.status === 503 ? 'loading' : 'problem', err.message);
    // 503 while the model loads: try again shortly. A declined key prompt waits for the user.
    if (err.status !== 401) modelsRetry = setTimeout(loadModels, err.status === 503 ? 1000 : 5000);
  }
}

function setStatus(kind, text) {
  const el = $('#status');
  el.dataset.kind = kind;
  el.textContent = text;
  el.title = text;
}

async function pollHealth() {
  try {
    const res = await fetch('/health');
    const h = await res.json();
    if (h.state !== 'ready') setStatus(h.state === 'loading' ? 'loading' : 'problem', h.error ?? h.state.replace(/_/g, ' '));
    else if ($('#status').dataset.kind !== 'ready') loadModels();
  } catch {
    setStatus('problem', 'server unreachable');
  }
  setTimeout(pollHealth, 3000);
}

// ---- generation ------------------------------------------------------------------------

function setBusy(busy) {
  $('#send').hidden = busy;
  $('#stop').hidden = !busy;
  document.body.dataset.busy = String(busy);
}

/** Streams an answer to `history`; the answer joins the history unless it failed. */
async function generate() {
  const model = picker.value;
  const answer = chat.addAnswer(model || 'model');
  const controller = new AbortController();
  current = { answer, controller };
  setBusy(true);
  const messages = settings.systemPrompt ? [{ role: 'system', content: settings.systemPrompt }, ...history] : history;
  const started = performance.now();
  let first, last, chunks = 0, usage, finish;
  try {
    await withKey(() =>
      streamChat(
        { ...(model ? { model } : {}), messages, ...settings.params() },
        {
          signal: controller.signal,
          onEvent: (event) => {
            if (event.usage) usage = event.usage;
            const choice = event.choices?.[0];
            if (choice?.finish_reason) finish = choice.finish_reason;
            const delta = choice?.delta?.content;
            if (!delta) return;
            const now = performance.now();
            first ??= now;
            last = now;
            chunks++;
            answer.append(delta);
            const seconds = (now - first) / 1000;
            answer.stats({ tokens: chunks, ttftMs: first - started, ...(chunks > 1 && seconds > 0 && { tokensPerSecond: (chunks - 1) / seconds, live: true }) });
            chat.scroll();
          },
        },
      ),
    );
    const tokens = usage?.completion_tokens ?? chunks;
    const seconds = first !== undefined ? (last - first) / 1000 : 0;
    answer.stats({
      tokens,
      ...(first !== undefined && { ttftMs: first - started }),
      ...(tokens > 1 && seconds > 0 && { tokensPerSecond: (tokens - 1) / seconds }),
      finish: finish === 'length' ? 'hit max tokens' : (finish ?? ''),
    });
    answer.finish('done');
    history.push({ role: 'assistant', content: answer.text });
  } catch (err) {
    if (controller.signal.aborted) {
      answer.stats({ finish: 'stopped' });
      answer.finish('stopped');
      // A stopped answer stays in the conversation as far as it got.
      if (answer.text) history.push({ role: 'assistant', content: answer.text });
    } else {
      answer.fail(err instanceof Error ? err.message : String(err));
    }
  } finally {
    current = undefined;
    setBusy(false);
    chat.scroll();
    refreshRegenerate();
  }
}

function send() {
  const text = input.value.trim();
  if (!text || current) return;
  input.value = '';
  autosize();
  $('#empty').hidden = true;
  // A question whose answer failed stays on screen but leaves the history: many chat
  // templates refuse two user turns in a row.
  if (history.at(-1)?.role === 'user') history.pop();
  history.push({ role: 'user', content: text });
  chat.addUser(text);
  void generate();
}

function stop() {
  current?.controller.abort();
}

/** Drops the last answer (done, stopped or failed) and asks again. */
function regenerate() {
  if (current) return;
  const answers = document.querySelectorAll('#messages .msg.assistant');
  const lastAnswer = answers[answers.length - 1];
  if (!lastAnswer) return;
  if (history.at(-1)?.role === 'assistant') history.pop();
  if (history.at(-1)?.role !== 'user') return;
  lastAnswer.remove();
  void generate();
}

/** Only the newest answer offers Regenerate. */
function refreshRegenerate() {
  const answers = [...document.querySelectorAll('#messages .msg.assistant')];
  answers.forEach((a, i) => a.classList.toggle('latest', i === answers.length - 1));
}

function newChat() {
  stop();
  history = [];
  chat.clear();
  $('#empty').hidden = false;
  input.focus();
}

function autosize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}

// ---- panels, theme, copy ---------------------------------------------------------------

function togglePanel(name, show) {
  const panel = $(`#${name}`);
  const visible = show ?? panel.hidden;
  panel.hidden = !visible;
  // On a narrow screen the panels overlay the chat: one at a time.
  const other = name === 'settings' ? 'metrics' : 'settings';
  if (visible && show === undefined && matchMedia('(max-width: 800px)').matches && !$(`#${other}`).hidden) togglePanel(other, false);
  $(`#toggle-${name}`).setAttribute('aria-pressed', String(visible));
  store.set(`panel-${name}`, visible ? 'open' : 'closed');
  if (name === 'metrics' && visible) metrics.start();
  else if (name === 'metrics') metrics.stop();
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  store.set('theme', theme);
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => (button.textContent = 'Copy'), 1200);
}

// ---- wiring ----------------------------------------------------------------------------

$('#composer').addEventListener('submit', (e) => {
  e.preventDefault();
  send();
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
input.addEventListener('input', autosize);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && current) stop();
});
$('#stop').addEventListener('click', stop);
$('#new-chat').addEventListener('click', newChat);
$('#messages').addEventListener('click', (e) => {
  const button = e.target.closest('button');
  if (!button) return;
  if (button.classList.contains('regenerate')) regenerate();
  else if (button.classList.contains('copy-code')) copy(button.closest('.code-block').querySelector('code').textContent, button);
  else if (button.classList.contains('copy-msg')) copy(button.closest('.msg').querySelector('.msg-body').innerText, button);
});
picker.addEventListener('change', () => store.set('model', picker.value));
picker.addEventListener('focus', loadModels);
$('#toggle-settings').addEventListener('click', () => togglePanel('settings'));
$('#toggle-metrics').addEventListener('click', () => togglePanel('metrics'));
$('#theme').addEventListener('click', () => applyTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'));
$('#forget-key').addEventListener('click', () => {
  apiKey.set('');
  $('#forget-key').textContent = 'Key forgotten';
});
for (const el of document.querySelectorAll('[data-example]')) {
  el.addEventListener('click', () => {
    input.value = el.dataset.example;
    send();
  });
}

applyTheme(store.get('theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
const wide = matchMedia('(min-width: 1100px)').matches;
togglePanel('settings', (store.get('panel-settings') ?? (wide ? 'open' : 'closed')) === 'open');
togglePanel('metrics', (store.get('panel-metrics') ?? (wide ? 'open' : 'closed')) === 'open');
setBusy(false);
void loadModels();
void pollHealth();
input.focus();
