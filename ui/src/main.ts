import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { applyRememberedTheme } from './lib/theme';

applyRememberedTheme();

const target = document.getElementById('app');
if (!target) throw new Error('#app is missing');

export default mount(App, { target });
