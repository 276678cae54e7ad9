// Tradewire dashboard. No build step and no dependencies: the gateway serves this file as written.
//
// Reads: the transcoded /v1 API (instruments, orders, portfolio, trades, candles). Writes: the plain REST shape
// (/api/orders, /api/v1/orders/{id}), which takes decimals as typed and names the field of every validation error.
// Live data: one WebSocket (/ws) with the account's executions and the chosen symbol's book, trades and quotes;
// the executions resume from their last cursor after a reconnect. Balance and positions are re-read when an
// execution report arrives (risk has no stream of them), never on a timer.
'use strict';

(() => {
  const KEY_STORAGE = 'tradewire.apiKey';
  const SYMBOL_STORAGE = 'tradewire.symbol';
  const MAX_EXECUTIONS = 200;
  const MAX_TRADES = 60;
  const BOOK_DEPTH = 12;
  const INTERVALS = {
    CANDLE_INTERVAL_1S: 1000, CANDLE_INTERVAL_1M: 60000, CANDLE_INTERVAL_5M: 300000, CANDLE_INTERVAL_1H: 3600000,
  };
  const WORKING = new Set(['ORDER_STATUS_NEW', 'ORDER_STATUS_ACCEPTED', 'ORDER_STATUS_PARTIALLY_FILLED']);

  const $ = (id) => document.getElementById(id);
  const state = {
    key: null, account: '', instruments: new Map(), symbol: '', interval: 'CANDLE_INTERVAL_1M',
    orders: new Map(), rows: new Map(), candles: [], trades: [], bids: new Map(), asks: new Map(),
    socket: null, generation: 0, cursor: '', retry: 0, portfolioTimer: 0, replacing: null, drawQueued: false,
  };

  const { decimal, quantity, money, toNumber, nanosToMillis, clock } = window.tradewireFormat;
  const strip = (value, prefix) => (value || '').replace(prefix, '');

  function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  // MARK: - HTTP

  class APIError extends Error {
    constructor(status, body, text) {
      super((body && body.message) || text || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
      this.details = (body && body.details) || [];
    }

    /** google.rpc.BadRequest's violations, as {field, description}. */
    get violations() {
      const request = this.details.find((detail) => (detail['@type'] || '').endsWith('google.rpc.BadRequest'));
      return (request && request.fieldViolations) || [];
    }
  }

  async function api(method, path, body, headers = {}) {
    const init = { method, headers: { Authorization: `Bearer ${state.key}`, ...headers } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
    if (response.status === 401) {
      signOut('The gateway refused this API key.');
      throw new APIError(401, json, text);
    }
    if (!response.ok) throw new APIError(response.status, json, text);
    return json;
  }

  const pathSegment = (text) => encodeURIComponent(text);

  // MARK: - Sign in and out

  function showSignIn(message) {
    $('app').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = message || '';
    $('api-key').focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const key = $('api-key').value.trim();
    if (!key) {
      $('signin-error').textContent = 'Enter an API key.';
      return;
    }
    state.key = key;
    try {
      await api('GET', '/v1/orders?page_size=1');
    } catch (error) {
      state.key = null;
      $('signin-error').textContent = error.status === 401 ? 'The gateway refused this API key.' : `Cannot reach the gateway: ${error.message}`;
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    $('api-key').value = '';
    start();
  }

  function signOut(message) {
    sessionStorage.removeItem(KEY_STORAGE);
    state.key = null;
    if (state.socket) state.socket.close(1000, 'signed out');
    state.socket = null;
    showSignIn(message);
  }

  // MARK: - Start

  async function start() {
    $('signin').hidden = true;
    $('app').hidden = false;
    try {
      const listed = await api('GET', '/v1/instruments');
      state.instruments = new Map((listed.instruments || []).map((instrument) => [instrument.symbol, instrument]));
    } catch (error) {
      $('ticket-error').textContent = `Instruments: ${error.message}`;
    }
    const picker = $('symbol');
    picker.replaceChildren(...Array.from(state.instruments.keys(), (symbol) => new Option(symbol, symbol)));
    const remembered = sessionStorage.getItem(SYMBOL_STORAGE);
    state.symbol = state.instruments.has(remembered) ? remembered : (state.instruments.keys().next().value || '');
    picker.value = state.symbol;
    describeInstrument();
    connect();
    loadOrders();
    refreshPortfolio();
    loadMarket();
    $('ticket').elements.price.focus();
  }

  // MARK: - Live data: the WebSocket

  function connect() {
    const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    state.socket = socket;
    setLink('connecting…', '');
    socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'auth', apiKey: state.key })));
    socket.addEventListener('message', (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (_) { return; }
      receive(socket, message);
    });
    socket.addEventListener('close', (event) => {
      if (state.socket !== socket || !state.key) return;
      state.socket = null;
      if (event.code === 1008) return signOut('The gateway refused this API key.');
      const delay = Math.min(10000, 500 * 2 ** state.retry++);
      setLink(`reconnecting in ${Math.round(delay / 1000)} s`, 'down');
      setTimeout(() => { if (state.key && !state.socket) connect(); }, delay);
    });
  }

  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
  }

  function setLink(text, kind) {
    const link = $('link');
    link.textContent = text;
    link.className = `link ${kind}`;
  }

  function receive(socket, message) {
    switch (message.type) {
      case 'ready':
        state.retry = 0;
        state.account = message.account;
        $('account').textContent = message.account;
        setLink('live', 'live');
        subscribeExecutions();
        subscribeMarket();
        break;
      case 'data':
        route(message.id, message.data);
        break;
      case 'error':
        if (message.id === 'executions') {
          // Fell behind (RESOURCE_EXHAUSTED) or the stream ended: resume from the last cursor read — unless the
          // cursor itself was refused (INVALID_ARGUMENT, e.g. the cluster changed), then from now on.
          if (message.error.code === 3) state.cursor = '';
          setTimeout(subscribeExecutions, 1000);
        } else if (message.id && message.id.startsWith(`m${state.generation}-`)) {
          // A market stream ended (market data restarted, or this page fell behind): subscribe again.
          setLink(`market data: ${message.error.message}`, 'down');
          const generation = state.generation;
          setTimeout(() => { if (generation === state.generation) { subscribeMarket(); loadMarket(); setLink('live', 'live'); } }, 1000);
        } else if (!message.id) {
          setLink(message.error.message, 'down');
        }
        break;
      default:
        break;
    }
  }

  function subscribeExecutions() {
    send({ type: 'unsubscribe', id: 'executions' });
    send({ type: 'subscribe', id: 'executions', channel: 'executions', cursor: state.cursor });
  }

  function subscribeMarket() {
    const old = state.generation;
    for (const channel of ['book', 'trades', 'quotes']) send({ type: 'unsubscribe', id: `m${old}-${channel}` });
    state.generation = old + 1;
    if (!state.symbol) return;
    const prefix = `m${state.generation}-`;
    send({ type: 'subscribe', id: `${prefix}book`, channel: 'book', symbols: [state.symbol], depth: BOOK_DEPTH });
    send({ type: 'subscribe', id: `${prefix}trades`, channel: 'trades', symbols: [state.symbol] });
    send({ type: 'subscribe', id: `${prefix}quotes`, channel: 'quotes', symbols: [state.symbol] });
  }

  function route(id, data) {
    if (id === 'executions') return onExecution(data);
    const prefix = `m${state.generation}-`;
    if (!id || !id.startsWith(prefix)) return undefined;
    switch (id.slice(prefix.length)) {
      case 'book': return onBook(data);
      case 'trades': return onTrade(data);
      case 'quotes': return onQuote(data);
      default: return undefined;
    }
  }

  // MARK: - Orders: the blotter

  /** The blotter's row model from a /v1 Order. */
  function fromOrder(order) {
    return {
      id: order.orderId ? order.orderId.value : '', symbol: order.symbol, side: order.side, type: order.type,
      timeInForce: order.timeInForce, price: decimal(order.price), quantity: quantity(order.quantity),
      filled: quantity(order.filledQuantity) || '0', averagePrice: order.averagePrice || '', status: order.status,
      created: nanosToMillis(order.createdAtUnixNanos), updated: nanosToMillis(order.updatedAtUnixNanos),
      pending: order.pendingPrice || order.pendingQuantity ? 'replace pending' : '', text: order.rejectText || '',
    };
  }

  /** The row model from the plain REST shape's order (decimals as strings, enums without prefixes). */
  function fromSimple(order) {
    return {
      id: order.orderId, symbol: order.symbol, side: `SIDE_${order.side}`, type: `ORDER_TYPE_${order.type}`,
      timeInForce: `TIME_IN_FORCE_${order.timeInForce}`, price: order.price || '', quantity: quantity(order.quantity || ''),
      filled: quantity(order.filledQuantity || '0'), averagePrice: order.averagePrice || '', status: `ORDER_STATUS_${order.status}`,
      created: nanosToMillis(order.createdAtUnixNanos), updated: nanosToMillis(order.updatedAtUnixNanos),
      pending: order.pendingPrice || order.pendingQuantity ? 'replace pending' : '', text: order.rejectText || '',
    };
  }

  /**
   * Keeps the newer of what is known and what arrived (a list read or an answer can race the live reports). At the
   * same instant the reports win: a node makes every change of one turn at one time and reports each, so the last
   * report of that instant is never behind an answer built during it (a replace answered PENDING_REPLACE and its
   * REPLACED, say); the answer then only fills in what reports do not carry (the order's type and time in force).
   */
  function upsert(row) {
    const known = state.orders.get(row.id);
    if (known && known.updated >= row.updated) {
      const missing = Object.fromEntries(['type', 'timeInForce'].filter((key) => !known[key] && row[key]).map((key) => [key, row[key]]));
      if (Object.keys(missing).length) {
        state.orders.set(row.id, { ...known, ...missing });
        renderOrder(row.id);
      }
      return;
    }
    state.orders.set(row.id, known ? { ...known, ...row, created: known.created || row.created } : row);
    renderOrder(row.id);
  }

  function applyReport(report) {
    const id = report.orderId ? report.orderId.value : '';
    const known = state.orders.get(id);
    const time = nanosToMillis(report.transactTimeUnixNanos);
    const row = {
      ...(known || { id, symbol: report.symbol, side: report.side, type: '', timeInForce: '', created: time }),
      status: report.orderStatus, updated: Math.max(time, known ? known.updated : 0),
      filled: quantity(report.cumulativeQuantity) || '0', averagePrice: report.averagePrice || (known && known.averagePrice) || '',
      pending: report.execType === 'EXEC_TYPE_PENDING_REPLACE' ? 'replace pending' : '',
      text: report.text || (known && known.text) || '',
    };
    if (report.price) row.price = decimal(report.price);
    if (report.orderQuantity) row.quantity = quantity(report.orderQuantity);
    state.orders.set(id, row);
    renderOrder(id);
  }

  async function loadOrders() {
    try {
      const page = await api('GET', '/v1/orders?page_size=200');
      for (const order of (page.orders || []).slice().reverse()) upsert(fromOrder(order));
      $('blotter-error').textContent = '';
    } catch (error) {
      $('blotter-error').textContent = `Orders: ${error.message}`;
    }
  }

  function statusClass(status) {
    if (WORKING.has(status) || status === 'ORDER_STATUS_PENDING_CANCEL') return 'working';
    if (status === 'ORDER_STATUS_FILLED' || status === 'ORDER_STATUS_SETTLED') return 'filled';
    if (status === 'ORDER_STATUS_REJECTED') return 'rejected';
    return 'done';
  }

  /** Updates one order's row in place (new rows go on top): a focused button keeps its focus. */
  function renderOrder(id) {
    const order = state.orders.get(id);
    let row = state.rows.get(id);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.orderId = id;
      for (let index = 0; index < 10; index += 1) row.appendChild(document.createElement('td'));
      [4, 5, 6, 7].forEach((index) => row.cells[index].classList.add('num'));
      row.cells[9].className = 'actions';
      state.rows.set(id, row);
      const body = $('orders');
      const newer = Array.from(body.rows).find((other) => (state.orders.get(other.dataset.orderId) || {}).created < order.created);
      body.insertBefore(row, newer || null);
    } else {
      row.classList.remove('flash');
      void row.offsetWidth;
    }
    row.classList.add('flash');
    const side = strip(order.side, 'SIDE_');
    const cells = row.cells;
    cells[0].textContent = clock(order.created);
    cells[1].textContent = order.symbol;
    cells[2].textContent = side;
    cells[2].className = side === 'BUY' ? 'buy-text' : 'sell-text';
    cells[3].textContent = `${strip(order.type, 'ORDER_TYPE_')} ${strip(order.timeInForce, 'TIME_IN_FORCE_')}`.trim();
    cells[4].textContent = order.price || 'market';
    cells[5].textContent = order.quantity;
    cells[6].textContent = order.filled;
    cells[7].textContent = order.averagePrice;
    const status = document.createElement('span');
    status.className = `status ${statusClass(order.status)}`;
    status.textContent = [strip(order.status, 'ORDER_STATUS_').replace('_', ' '), order.pending].filter(Boolean).join(' · ');
    if (order.text) status.title = order.text;
    cells[8].replaceChildren(status);
    cells[8].dataset.status = strip(order.status, 'ORDER_STATUS_');
    renderActions(order, cells[9]);
    row.hidden = $('working-only').checked && !WORKING.has(order.status);
  }

  function renderActions(order, cell) {
    const working = WORKING.has(order.status);
    const existing = cell.querySelector('button');
    if (working && existing) return;
    if (!working) {
      if (existing) {
        const hadFocus = cell.contains(document.activeElement);
        cell.replaceChildren();
        if (hadFocus) $('blotter-title').focus();
      }
      return;
    }
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.textContent = 'Cancel';
    cancel.dataset.action = 'cancel';
    cancel.setAttribute('aria-label', `Cancel order ${order.id}`);
    const replace = document.createElement('button');
    replace.type = 'button';
    replace.textContent = 'Replace';
    replace.dataset.action = 'replace';
    replace.setAttribute('aria-label', `Replace order ${order.id}`);
    cell.replaceChildren(cancel, replace);
  }

  async function onBlotterClick(event) {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const id = button.closest('tr').dataset.orderId;
    if (button.dataset.action === 'replace') return openReplace(id);
    button.disabled = true;
    try {
      upsert(fromSimple(await api('DELETE', `/api/v1/orders/${pathSegment(id)}`)));
      $('blotter-error').textContent = '';
    } catch (error) {
      $('blotter-error').textContent = `Cancel: ${error.message}`;
      button.disabled = false;
    }
    return undefined;
  }

  // MARK: - The ticket

  const FIELD_NAMES = { type: 'orderType', order_type: 'orderType', time_in_force: 'timeInForce', client_order_id: 'clientOrderId' };

  /** Shows the server's errors on the form's fields; what names no field goes to `general`. */
  function showErrors(form, general, error) {
    clearErrors(form, general);
    let unplaced = [];
    const violations = error.violations;
    for (const violation of violations) {
      const path = (violation.field || '').split('.');
      let field = path[path.length - 1];
      if (/^(units|scale)$/.test(field)) field = path[path.length - 2];
      field = FIELD_NAMES[field] || field;
      const slot = form.querySelector(`[data-error-for="${field}"]`);
      if (!slot) {
        unplaced.push(`${violation.field}: ${violation.description}`);
        continue;
      }
      slot.textContent = violation.description;
      slot.id = slot.id || `${form.id}-${field}-error`;
      const input = form.elements[field];
      if (input && input.setAttribute) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', slot.id);
      }
    }
    if (!violations.length) unplaced = [error.message];
    general.textContent = unplaced.join('; ');
    const first = form.querySelector('[aria-invalid="true"]');
    if (first) first.focus();
  }

  function clearErrors(form, general) {
    form.querySelectorAll('.field-error').forEach((slot) => { slot.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach((input) => input.removeAttribute('aria-invalid'));
    general.textContent = '';
  }

  function updateTicket() {
    const form = $('ticket');
    const side = form.elements.side.value;
    const market = form.elements.orderType.value === 'MARKET';
    form.className = side === 'BUY' ? 'buy' : 'sell';
    form.elements.price.disabled = market;
    if (market && form.elements.timeInForce.value === 'GTC') form.elements.timeInForce.value = 'IOC';
    $('ticket-submit').textContent = `Place ${side.toLowerCase()} ${market ? 'market ' : ''}order`;
  }

  async function placeOrder(event) {
    event.preventDefault();
    const form = $('ticket');
    clearErrors(form, $('ticket-error'));
    $('ticket-result').textContent = '';
    delete $('ticket-result').dataset.orderId;
    const order = {
      symbol: state.symbol, side: form.elements.side.value, orderType: form.elements.orderType.value,
      timeInForce: form.elements.timeInForce.value, quantity: form.elements.quantity.value.trim(),
    };
    const price = form.elements.price.value.trim();
    if (order.orderType === 'LIMIT' && price) order.price = price;
    if (!order.quantity) delete order.quantity;
    const submit = $('ticket-submit');
    submit.disabled = true;
    try {
      const placed = await api('POST', '/api/orders', order, { 'X-Idempotency-Key': randomKey() });
      upsert(fromSimple(placed));
      const result = $('ticket-result');
      result.textContent = `${placed.side} ${quantity(placed.quantity)} ${placed.symbol} @ ${placed.price || 'market'}: ${placed.status}`;
      result.title = `order ${placed.orderId}`;
      result.dataset.orderId = placed.orderId;
    } catch (error) {
      if (error.status !== 401) showErrors(form, $('ticket-error'), error);
    } finally {
      submit.disabled = false;
    }
  }

  // MARK: - Replace

  function openReplace(id) {
    const order = state.orders.get(id);
    if (!order) return;
    state.replacing = id;
    const form = $('replace-form');
    clearErrors(form, $('replace-error'));
    $('replace-order').textContent = `${strip(order.side, 'SIDE_')} ${order.quantity} ${order.symbol} @ ${order.price || 'market'} (${id})`;
    form.elements.price.value = order.price;
    form.elements.quantity.value = order.quantity;
    $('replace-dialog').showModal();
    form.elements.price.focus();
  }

  async function replaceOrder(event) {
    event.preventDefault();
    const form = $('replace-form');
    const order = state.orders.get(state.replacing);
    clearErrors(form, $('replace-error'));
    const change = {};
    const price = form.elements.price.value.trim();
    const size = form.elements.quantity.value.trim();
    if (price !== order.price) change.price = price;
    if (size !== order.quantity) change.quantity = size;
    if (!Object.keys(change).length) {
      $('replace-error').textContent = 'Change the price, the quantity or both.';
      return;
    }
    try {
      upsert(fromSimple(await api('PATCH', `/api/v1/orders/${pathSegment(state.replacing)}`, change)));
      $('replace-dialog').close();
    } catch (error) {
      if (error.status !== 401) showErrors(form, $('replace-error'), error);
    }
  }

  // MARK: - Executions

  function onExecution(report) {
    if (report.cursor) state.cursor = report.cursor;
    applyReport(report);
    const row = document.createElement('tr');
    const side = strip(report.side, 'SIDE_');
    const trade = report.execType === 'EXEC_TYPE_TRADE';
    const values = [
      clock(nanosToMillis(report.transactTimeUnixNanos)), report.symbol, side, strip(report.execType, 'EXEC_TYPE_').replace('_', ' '),
      trade ? quantity(report.lastQuantity) : '', trade ? decimal(report.lastPrice) : '', strip(report.orderStatus, 'ORDER_STATUS_').replace('_', ' '),
    ];
    values.forEach((value, index) => {
      const cell = row.insertCell();
      cell.textContent = value;
      if (index === 4 || index === 5) cell.className = 'num';
      if (index === 2) cell.className = side === 'BUY' ? 'buy-text' : 'sell-text';
    });
    row.dataset.execType = strip(report.execType, 'EXEC_TYPE_');
    const body = $('executions');
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > MAX_EXECUTIONS) body.deleteRow(-1);
    schedulePortfolio();
  }

  // MARK: - Balance and positions

  function schedulePortfolio() {
    clearTimeout(state.portfolioTimer);
    state.portfolioTimer = setTimeout(refreshPortfolio, 250);
  }

  async function refreshPortfolio() {
    try {
      const portfolio = await api('GET', '/v1/portfolio');
      const account = portfolio.account || {};
      $('balance').textContent = money(account.balance);
      $('reserved').textContent = money(account.reserved);
      $('available').textContent = money(account.available);
      $('open-orders').textContent = String(account.openOrders || 0);
      $('positions').replaceChildren(...(portfolio.positions || []).map((position) => {
        const row = document.createElement('tr');
        row.dataset.symbol = position.symbol;
        [position.symbol, quantity(position.quantity) || '0', money(position.cost, false), money(position.realizedPnl, false)].forEach((value, index) => {
          const cell = row.insertCell();
          cell.textContent = value;
          if (index) cell.className = 'num';
        });
        return row;
      }));
      $('portfolio-error').textContent = '';
    } catch (error) {
      if (error.status !== 401) $('portfolio-error').textContent = `Portfolio: ${error.message}`;
    }
  }

  // MARK: - Market: depth, trades, quote, candles

  function loadMarket() {
    state.bids.clear();
    state.asks.clear();
    renderBook();
    state.trades = [];
    renderTrades();
    $('quote').textContent = '';
    if (!state.symbol) return;
    const symbol = state.symbol;
    api('GET', `/v1/trades/${pathSegment(symbol)}?limit=${MAX_TRADES}`).then((recent) => {
      if (symbol !== state.symbol) return;
      const known = new Set(state.trades.map((trade) => trade.tradeId));
      state.trades = state.trades.concat((recent.trades || []).filter((trade) => !known.has(trade.tradeId))).slice(0, MAX_TRADES);
      renderTrades();
    }).catch((error) => { if (error.status !== 401) setLink(`trades: ${error.message}`, 'down'); });
    loadCandles();
  }

  function onBook(update) {
    if (update.symbol !== state.symbol) return;
    if (update.snapshot) {
      state.bids.clear();
      state.asks.clear();
    }
    for (const [levels, side] of [[update.bids || [], state.bids], [update.asks || [], state.asks]]) {
      for (const level of levels) {
        const key = decimal(level.price);
        if (BigInt((level.quantity && level.quantity.units) || 0) === 0n) side.delete(key);
        else side.set(key, level);
      }
    }
    renderBook();
  }

  function sortedLevels(side, descending) {
    return Array.from(side.values()).sort((left, right) => {
      const difference = toNumber(left.price) - toNumber(right.price);
      return descending ? -difference : difference;
    }).slice(0, BOOK_DEPTH);
  }

  function renderBook() {
    const asks = sortedLevels(state.asks, false);
    const bids = sortedLevels(state.bids, true);
    const largest = Math.max(1e-18, ...asks.concat(bids).map((level) => toNumber(level.quantity)));
    const rows = (levels, side) => levels.map((level) => {
      const row = document.createElement('tr');
      row.dataset.price = decimal(level.price);
      [decimal(level.price), quantity(level.quantity), String(level.orderCount || 0)].forEach((value) => {
        const cell = row.insertCell();
        cell.textContent = value;
        cell.className = 'num';
      });
      const share = Math.round((100 * toNumber(level.quantity)) / largest);
      const color = side === 'ask' ? 'rgba(240,89,91,.16)' : 'rgba(46,194,126,.16)';
      row.style.backgroundImage = `linear-gradient(to left, ${color} ${share}%, transparent ${share}%)`;
      return row;
    });
    $('asks').replaceChildren(...rows(asks, 'ask').reverse());
    $('bids').replaceChildren(...rows(bids, 'bid'));
    const best = (levels) => (levels.length ? toNumber(levels[0].price) : null);
    const spread = best(asks) !== null && best(bids) !== null ? (best(asks) - best(bids)) : null;
    const instrument = state.instruments.get(state.symbol);
    $('spread').textContent = spread === null ? 'no spread' : `spread ${spread.toFixed(instrument ? instrument.priceScale || 0 : 2)}`;
  }

  function onTrade(trade) {
    if (trade.symbol !== state.symbol) return;
    if (state.trades.some((known) => known.tradeId === trade.tradeId)) return;
    state.trades.unshift(trade);
    state.trades.length = Math.min(state.trades.length, MAX_TRADES);
    renderTrades();
    addToCandles(trade);
  }

  function renderTrades() {
    $('trades').replaceChildren(...state.trades.map((trade) => {
      const row = document.createElement('tr');
      row.dataset.tradeId = trade.tradeId;
      const buy = trade.aggressorSide === 'SIDE_BUY';
      [clock(nanosToMillis(trade.executedAtUnixNanos)), decimal(trade.price), quantity(trade.quantity)].forEach((value, index) => {
        const cell = row.insertCell();
        cell.textContent = value;
        if (index) cell.className = 'num';
        if (index === 1) cell.classList.add(buy ? 'buy-text' : 'sell-text');
      });
      return row;
    }));
  }

  function onQuote(quote) {
    if (quote.symbol !== state.symbol) return;
    const parts = [
      ['Bid', quote.bestBid ? decimal(quote.bestBid.price) : '–'], ['Ask', quote.bestAsk ? decimal(quote.bestAsk.price) : '–'],
      ['Last', quote.lastPrice ? decimal(quote.lastPrice) : '–'], ['Ref', quote.referencePrice ? decimal(quote.referencePrice) : '–'],
    ];
    $('quote').replaceChildren(...parts.flatMap(([label, value]) => {
      const strong = document.createElement('b');
      strong.textContent = value;
      return [document.createTextNode(` ${label} `), strong];
    }));
  }

  async function loadCandles() {
    const symbol = state.symbol;
    const interval = state.interval;
    const length = INTERVALS[interval];
    const from = BigInt(Date.now() - length * 120) * 1000000n;
    try {
      const answer = await api('GET', `/v1/candles/${pathSegment(symbol)}?interval=${interval}&from_unix_nanos=${from}`);
      if (symbol !== state.symbol || interval !== state.interval) return;
      state.candles = (answer.candles || []).map((candle) => ({
        open: toNumber(candle.open), high: toNumber(candle.high), low: toNumber(candle.low), close: toNumber(candle.close),
        volume: toNumber(candle.volume), time: nanosToMillis(candle.openTimeUnixNanos), trades: Number(candle.tradeCount || 0),
      }));
      drawSoon();
    } catch (error) {
      if (error.status !== 401) $('candle-info').textContent = `candles: ${error.message}`;
    }
  }

  /** A pushed trade into the current candle, or a new one (the server's candles are built the same way). */
  function addToCandles(trade) {
    const length = INTERVALS[state.interval];
    const time = nanosToMillis(trade.executedAtUnixNanos);
    const open = Math.floor(time / length) * length;
    const price = toNumber(trade.price);
    const size = toNumber(trade.quantity);
    const last = state.candles[state.candles.length - 1];
    if (last && last.time === open) {
      last.high = Math.max(last.high, price);
      last.low = Math.min(last.low, price);
      last.close = price;
      last.volume += size;
      last.trades += 1;
    } else if (!last || open > last.time) {
      state.candles.push({ open: price, high: price, low: price, close: price, volume: size, time: open, trades: 1 });
      if (state.candles.length > 500) state.candles.shift();
    }
    drawSoon();
  }

  function drawSoon() {
    if (state.drawQueued) return;
    state.drawQueued = true;
    requestAnimationFrame(() => {
      state.drawQueued = false;
      drawCandles();
    });
  }

  function drawCandles() {
    const canvas = $('candles');
    const instrument = state.instruments.get(state.symbol);
    const digits = instrument ? Number(instrument.priceScale || 0) : 2;
    window.drawCandleChart(canvas, state.candles, { digits, empty: `No trades in ${state.symbol} for this interval yet`, clock });
    describeCandle(canvas, state.candles[state.candles.length - 1], digits);
  }

  /** The last candle in words: for screen readers (the canvas's label) and the line above the chart. */
  function describeCandle(canvas, candle, digits) {
    const label = strip(state.interval, 'CANDLE_INTERVAL_').toLowerCase();
    if (!candle) {
      canvas.setAttribute('aria-label', `${state.symbol} ${label} candles: no trades yet`);
      $('candle-info').textContent = '';
      canvas.dataset.candles = '0';
      return;
    }
    const text = `${clock(candle.time)} O ${candle.open.toFixed(digits)} H ${candle.high.toFixed(digits)} `
      + `L ${candle.low.toFixed(digits)} C ${candle.close.toFixed(digits)} V ${+candle.volume.toFixed(8)} (${candle.trades} trades)`;
    $('candle-info').textContent = text;
    canvas.setAttribute('aria-label', `${state.symbol} ${label} candlestick chart; last candle ${text}`);
    canvas.dataset.candles = String(state.candles.length);
    canvas.dataset.lastCandle = `${candle.time}:${candle.trades}:${candle.close}`;
  }

  function chooseInterval(button) {
    state.interval = button.dataset.interval;
    document.querySelectorAll('.intervals button').forEach((other) => other.setAttribute('aria-pressed', String(other === button)));
    state.candles = [];
    drawSoon();
    loadCandles();
  }

  /** The ticket's instrument line: its symbol and the grid prices and quantities must be on. */
  function describeInstrument() {
    const instrument = state.instruments.get(state.symbol);
    const line = $('ticket-instrument');
    if (!instrument) return line.replaceChildren();
    const name = document.createElement('b');
    name.textContent = instrument.symbol;
    const rules = document.createElement('span');
    rules.textContent = [
      instrument.tickSize && `tick ${decimal(instrument.tickSize)}`, instrument.lotSize && `lot ${quantity(instrument.lotSize)}`,
      instrument.minQuantity && `min ${quantity(instrument.minQuantity)}`, instrument.quoteCurrency,
    ].filter(Boolean).join(' · ');
    return line.replaceChildren(name, rules);
  }

  function chooseSymbol() {
    state.symbol = $('symbol').value;
    describeInstrument();
    sessionStorage.setItem(SYMBOL_STORAGE, state.symbol);
    state.candles = [];
    drawSoon();
    subscribeMarket();
    loadMarket();
  }

  // MARK: - Wiring

  function shortcuts(event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.key.toLowerCase();
    if (key === 'n') {
      event.preventDefault();
      const form = $('ticket');
      (form.elements.price.disabled ? form.elements.quantity : form.elements.price).focus();
    } else if (key === 'y') {
      event.preventDefault();
      $('symbol').focus();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    $('ticket').addEventListener('submit', placeOrder);
    $('ticket').addEventListener('change', updateTicket);
    $('replace-form').addEventListener('submit', replaceOrder);
    $('replace-close').addEventListener('click', () => $('replace-dialog').close());
    $('orders').addEventListener('click', onBlotterClick);
    $('working-only').addEventListener('change', () => { for (const id of state.orders.keys()) renderOrder(id); });
    $('symbol').addEventListener('change', chooseSymbol);
    document.querySelectorAll('.intervals button').forEach((button) => button.addEventListener('click', () => chooseInterval(button)));
    document.addEventListener('keydown', shortcuts);
    window.addEventListener('resize', drawSoon);
    updateTicket();
    state.key = sessionStorage.getItem(KEY_STORAGE);
    if (state.key) start();
    else showSignIn('');
  });
})();
