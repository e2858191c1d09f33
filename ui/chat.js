/**
 * The conversation on screen: user messages, and answers that render their Markdown as it
 * streams and show their speed underneath (tokens, time to first token, tokens per second).
 */
import { escapeHtml, renderMarkdown } from './markdown.js';

function element(tag, className, html = '') {
  const el = document.createElement(tag);
  el.className = className;
  el.innerHTML = html;
  return el;
}

/** One answer: `data-state` is streaming, done, stopped or error. */
export class AnswerView {
  text = '';
  #frame = 0;

  constructor(container, model) {
    this.el = element('article', 'msg assistant');
    this.el.dataset.state = 'waiting';
    this.el.innerHTML =
      `<div class="msg-role">${escapeHtml(model)}</div>` +
      '<div class="msg-body"><span class="typing" aria-label="waiting for the first token"><i></i><i></i><i></i></span></div>' +
      '<div class="msg-meta"><span data-stat="tokens"></span><span data-stat="ttft"></span><span data-stat="tps"></span>' +
      '<span data-stat="finish"></span><span class="msg-actions"><button type="button" class="copy-msg">Copy</button>' +
      '<button type="button" class="regenerate" title="Ask again">↻ Regenerate</button></span></div>';
    this.body = this.el.querySelector('.msg-body');
    container.append(this.el);
  }

  /** Adds streamed text; the Markdown is rendered at most once per frame. */
  append(delta) {
    this.text += delta;
    if (this.el.dataset.state === 'waiting') this.el.dataset.state = 'streaming';
    if (!this.#frame) this.#frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    cancelAnimationFrame(this.#frame);
    this.#frame = 0;
    this.body.innerHTML = renderMarkdown(this.text);
  }

  /** `{ tokens, ttftMs, tokensPerSecond, finish, live }`; absent figures stay as they are. */
  stats({ tokens, ttftMs, tokensPerSecond, finish, live = false }) {
    const set = (name, text) => {
      this.el.querySelector(`[data-stat="${name}"]`).textContent = text;
    };
    if (tokens !== undefined) set('tokens', `${tokens} token${tokens === 1 ? '' : 's'}`);
    if (ttftMs !== undefined) set('ttft', `TTFT ${ttftMs.toFixed(0)} ms`);
    if (tokensPerSecond !== undefined) set('tps', `${live ? '≈ ' : ''}${tokensPerSecond.toFixed(1)} tok/s`);
    if (finish !== undefined) set('finish', finish);
  }

  finish(state) {
    this.flush();
    if (!this.text && state !== 'error') this.body.innerHTML = '<p class="muted">(no text)</p>';
    this.el.dataset.state = state;
  }

  fail(message) {
    this.flush();
    this.el.querySelector('.msg-body').insertAdjacentHTML('beforeend', `<p class="error-text">${escapeHtml(message)}</p>`);
    this.el.dataset.state = 'error';
  }
}

export class ChatView {
  constructor(container) {
    this.container = container;
  }

  addUser(text) {
    const el = element('article', 'msg user', `<div class="msg-role">you</div><div class="msg-body">${renderMarkdown(text)}</div>`);
    this.container.append(el);
    this.scroll(true);
    return el;
  }

  addAnswer(model) {
    const answer = new AnswerView(this.container, model);
    this.scroll(true);
    return answer;
  }

  /** Keeps the newest text in view unless the reader scrolled up. */
  scroll(force = false) {
    const c = this.container;
    if (force || c.scrollHeight - c.scrollTop - c.clientHeight < 120) c.scrollTop = c.scrollHeight;
  }

  clear() {
    this.container.replaceChildren();
  }
}
