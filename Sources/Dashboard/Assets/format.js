// Tradewire dashboard: numbers as the API sends them, as text. Exact: an amount is units × 10^-scale (units a
// 64-bit integer as a JSON string) and is only ever re-grouped as digits; floating point is for drawing only.
// Loaded before dashboard.js.
'use strict';

window.tradewireFormat = (() => {
  /** {units, scale} as a decimal string ("4500000", 2 → "45000.00"); '' for an absent amount. */
  function decimal(amount) {
    if (!amount) return '';
    const scale = Number(amount.scale || 0);
    let units = BigInt(amount.units || 0);
    const negative = units < 0n;
    if (negative) units = -units;
    const digits = units.toString().padStart(scale + 1, '0');
    const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
    return (negative ? '-' : '') + text;
  }

  /** A quantity without trailing zeros ("0.10000000" → "0.1"). */
  function quantity(amount) {
    const text = typeof amount === 'string' ? amount : decimal(amount);
    return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
  }

  /** Money with thousands separators and at least two decimals (exact: digits are only regrouped), and its currency. */
  function money(amount, withCurrency = true) {
    if (!amount) return '0.00';
    const [whole, fraction = ''] = (decimal(amount) || '0').split('.');
    const cents = fraction.replace(/0+$/, '').padEnd(2, '0');
    return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${cents} ${withCurrency ? amount.currency || '' : ''}`.trim();
  }

  const toNumber = (amount) => (amount ? Number(amount.units || 0) / 10 ** Number(amount.scale || 0) : 0);
  const nanosToMillis = (nanos) => Number(BigInt(nanos || 0) / 1000000n);
  const clock = (millis) => (millis ? new Date(millis).toLocaleTimeString([], { hour12: false }) : '');

  return { decimal, quantity, money, toNumber, nanosToMillis, clock };
})();
